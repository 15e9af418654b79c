"""Shipped pretrained models (``.keras`` files, vocabularies, model cards) and their training script.

Load them with :func:`keras_text_lrp.models.load`; retrain them with
``python -m keras_text_lrp.pretrained.train cnn|bilstm``.
"""

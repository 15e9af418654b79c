"""The built-in analyzer names, without importing the analyzers (and so Keras).

The command line tool lists and checks ``--method`` against these at once;
``tests/safety`` asserts that they equal the keys of
:data:`keras_text_lrp.analyzers.registry.ANALYZERS`.
"""

METHOD_NAMES = (
    "attention.last_layer", "attention.rollout", "deconvnet", "deep_taylor", "gradient", "guided_backprop",
    "input_t_gradient", "integrated_gradients",
    "lrp.alpha_1_beta_0", "lrp.alpha_1_beta_0_IB", "lrp.alpha_2_beta_1", "lrp.alpha_2_beta_1_IB",
    "lrp.alpha_beta", "lrp.attnlrp", "lrp.epsilon", "lrp.flat", "lrp.lstm", "lrp.sequential_preset_a",
    "lrp.sequential_preset_b", "lrp.w_square", "lrp.z", "lrp.z_plus", "smoothgrad",
)

"""The main job: train a small text CNN on the shipped SST-5 data and explain it.

``python -m keras_text_lrp`` trains a Kim-style CNN (GloVe-50d initialised
embeddings, word-bigram convolution, global max pooling, Dense logits) on the
SST-5 training sentences shipped with the package, reports its test accuracy
and prints the word relevances of a few test sentences under LRP-epsilon and
the gradient. Nothing is downloaded.
"""

from __future__ import annotations

import argparse
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def _build(vocab_size: int, embeddings, classes: int):
    import keras

    ids = keras.Input((None,), dtype="int32", name="token_ids")
    x = keras.layers.Embedding(
        vocab_size, embeddings.shape[1], mask_zero=True,
        embeddings_initializer=keras.initializers.Constant(embeddings),
    )(ids)
    x = keras.layers.Conv1D(100, 2, activation="relu")(x)
    x = keras.layers.GlobalMaxPooling1D()(x)
    x = keras.layers.Dropout(0.5)(x)
    out = keras.layers.Dense(classes, name="logits")(x)
    return keras.Model(ids, out, name="sst5_cnn")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m keras_text_lrp", description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--examples", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    import keras
    import numpy as np

    import keras_text_lrp as ktl
    from keras_text_lrp.datasets import SST5_LABEL_NAMES, load_glove, load_sst5
    from keras_text_lrp.text import Vocabulary, word_relevance

    keras.utils.set_random_seed(args.seed)
    train_texts, train_y = load_sst5("train")
    test_texts, test_y = load_sst5("test")
    train_tokens = [t.lower().split() for t in train_texts]
    test_tokens = [t.lower().split() for t in test_texts]
    vocab = Vocabulary.from_tokens(train_tokens)
    words, vectors = load_glove("sst_vocab")
    glove = dict(zip(words, vectors))
    rng = np.random.default_rng(args.seed)
    table = rng.normal(0.0, 0.3, (len(vocab), vectors.shape[1])).astype("float32")
    table[0] = 0.0
    for i, word in enumerate(vocab.get_vocabulary()):
        if word in glove:
            table[i] = glove[word]

    x_train, _ = vocab.encode(train_tokens, max_len=56)
    x_test, _ = vocab.encode(test_tokens, max_len=56)
    model = _build(len(vocab), table, len(SST5_LABEL_NAMES))
    model.compile(
        optimizer=keras.optimizers.Adam(1e-3),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    print(f"Training a text CNN on SST-5 ({len(train_texts)} sentences, {args.epochs} epochs)...")
    model.fit(x_train, train_y, epochs=args.epochs, batch_size=50, verbose=2)
    _, acc = model.evaluate(x_test, test_y, verbose=0)
    print(f"SST-5 test accuracy: {acc:.3f} ({len(test_texts)} sentences)\n")

    picks = x_test[: args.examples]
    for method in ("lrp.epsilon", "gradient"):
        analyzer = ktl.create_analyzer(method, model)
        scores = word_relevance(analyzer.analyze(picks), pooling="sum", mask=picks != 0)
        print(f"== {method} (relevance summed over embedding dimensions; + for, - against)")
        logits = keras.ops.convert_to_numpy(model(picks))
        for row, (ids, s) in enumerate(zip(picks, scores)):
            pred = int(np.argmax(logits[row]))
            shown = " ".join(
                f"{vocab.id_to_token(int(i))}[{v:+.2f}]" for i, v in zip(ids, s) if i != 0
            )
            print(f"pred={SST5_LABEL_NAMES[pred]!s:<14} true={SST5_LABEL_NAMES[test_y[row]]!s:<14} {shown}")
        print()
    return 0


if __name__ == "__main__":
    sys.exit(main())

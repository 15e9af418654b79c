"""The model code of the official Keras text examples, written as those examples write it.

Sizes are shrunk and each model is trained a few steps on shipped data (SST-2, 20 Newsgroups,
GloVe 50d), so that the weights are trained weights. Each builder returns an :class:`Example`:

- ``model``: what the user analyses (for the TextVectorization examples, the end-to-end model
  taking raw strings, built the way the example builds it);
- ``inputs``: a small batch for that model (raw strings or token ids);
- ``embed(inputs)``: the embedding output the analysis is taken at, from the model's own layers;
- ``scores(E)``: the class scores (pre-activation logits; ``[-z, z]`` for a one-unit sigmoid)
  as a function of the embedding output, from the model's own layers called directly: the
  reference that the tests differentiate with the backend's autodiff.

Examples (keras.io, Keras 3 versions): "Text classification from scratch",
"Bidirectional LSTM on IMDB", "Using pre-trained word embeddings", "Text classification with
Transformer".
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass
from typing import Any

import keras
import numpy as np
from keras import layers, ops

from keras_text_lrp.datasets import load_20newsgroups, load_glove, load_sst2


@dataclass
class Example:
    name: str
    model: Any
    inputs: Any
    embed: Any
    scores: Any
    transformer: bool = False


def _binary(z):
    return ops.concatenate([-z, z], axis=-1)


def _dense_logits(dense, x):
    """A Dense layer's pre-activation (its activation left out)."""
    return ops.matmul(x, dense.kernel) + dense.bias


def _sst2(n):
    texts, labels = load_sst2("train")
    return texts[:n], labels[:n]


# ---------------------------------------------------------------------------
# "Text classification from scratch": TextVectorization, Conv1D x2 (strides 3), sigmoid head
# ---------------------------------------------------------------------------
def custom_standardization(input_data):
    import tensorflow as tf

    lowercase = tf.strings.lower(input_data)
    stripped_html = tf.strings.regex_replace(lowercase, "<br />", " ")
    return tf.strings.regex_replace(stripped_html, f"[{re.escape(string.punctuation)}]", "")


def from_scratch() -> Example:
    max_features, embedding_dim, sequence_length = 2000, 16, 40
    texts, labels = _sst2(768)
    vectorize_layer = layers.TextVectorization(
        standardize=custom_standardization,
        max_tokens=max_features,
        output_mode="int",
        output_sequence_length=sequence_length,
    )
    vectorize_layer.adapt(texts)

    inputs = keras.Input(shape=(None,), dtype="int64")
    embedding = layers.Embedding(max_features, embedding_dim)
    x = embedding(inputs)
    x = layers.Dropout(0.5)(x)
    conv1 = layers.Conv1D(16, 7, padding="valid", activation="relu", strides=3)
    conv2 = layers.Conv1D(16, 7, padding="valid", activation="relu", strides=3)
    x = conv2(conv1(x))
    pool = layers.GlobalMaxPooling1D()
    x = pool(x)
    hidden = layers.Dense(16, activation="relu")
    x = hidden(x)
    x = layers.Dropout(0.5)(x)
    out = layers.Dense(1, activation="sigmoid", name="predictions")
    predictions = out(x)
    model = keras.Model(inputs, predictions)
    model.compile(loss="binary_crossentropy", optimizer="adam", metrics=["accuracy"])
    ids = np.asarray(vectorize_layer(np.array([[t] for t in texts])))
    model.fit(ids, labels, batch_size=64, epochs=1, verbose=0)

    # the end-to-end model of the example's last section
    text_inputs = keras.Input(shape=(1,), dtype="string")
    indices = vectorize_layer(text_inputs)
    end_to_end_model = keras.Model(text_inputs, model(indices))

    def embed(batch):
        return embedding(vectorize_layer(np.array([[t] for t in batch])))

    def scores(E):
        return _binary(_dense_logits(out, hidden(pool(conv2(conv1(E))))))

    sample = ["A gorgeous, witty, seductive movie.", "Dull and lifeless.", "not bad at all",
              "The acting is <br /> superb, the plot thin."]
    return Example("from_scratch", end_to_end_model, sample, embed, scores)


# ---------------------------------------------------------------------------
# "Bidirectional LSTM on IMDB": int ids, pad_sequences (pre-padding), two bi-LSTMs, sigmoid head
# ---------------------------------------------------------------------------
def bidirectional_lstm() -> Example:
    max_features, maxlen = 2000, 24
    texts, labels = _sst2(512)
    tokenizer = layers.TextVectorization(max_tokens=max_features)  # the example's data are ids already
    tokenizer.adapt(texts)
    sequences = [row[row != 0] for row in np.asarray(tokenizer(texts))]
    x_train = keras.utils.pad_sequences(sequences, maxlen=maxlen)

    inputs = keras.Input(shape=(None,), dtype="int32")
    embedding = layers.Embedding(max_features, 16)
    x = embedding(inputs)
    bi1 = layers.Bidirectional(layers.LSTM(8, return_sequences=True))
    bi2 = layers.Bidirectional(layers.LSTM(8))
    x = bi2(bi1(x))
    out = layers.Dense(1, activation="sigmoid")
    outputs = out(x)
    model = keras.Model(inputs, outputs)
    model.compile("adam", "binary_crossentropy", metrics=["accuracy"])
    model.fit(x_train, labels, batch_size=64, epochs=1, verbose=0)

    def scores(E):
        return _binary(_dense_logits(out, bi2(bi1(E))))

    batch = x_train[:4]
    return Example("bidirectional_lstm", model, batch, lambda ids: embedding(ids), scores)


# ---------------------------------------------------------------------------
# "Using pre-trained word embeddings": TextVectorization, frozen GloVe Embedding with
# len(vocabulary) + 2 rows, Conv1D/MaxPooling1D x3, softmax over the 20 newsgroups
# ---------------------------------------------------------------------------
def pretrained_embeddings() -> Example:
    texts, labels, class_names = load_20newsgroups("train")
    rng = np.random.default_rng(0)
    pick = rng.choice(len(texts), 480, replace=False)
    train_samples = [texts[i] for i in pick]
    train_labels = labels[pick]
    vectorizer = layers.TextVectorization(max_tokens=4000, output_sequence_length=200)
    vectorizer.adapt(train_samples)
    voc = vectorizer.get_vocabulary()
    word_index = dict(zip(voc, range(len(voc))))
    words, vectors = load_glove("top50k")
    embeddings_index = dict(zip(words, vectors))
    num_tokens = len(voc) + 2
    embedding_dim = 50
    embedding_matrix = np.zeros((num_tokens, embedding_dim))
    for word, i in word_index.items():
        embedding_vector = embeddings_index.get(word)
        if embedding_vector is not None:
            embedding_matrix[i] = embedding_vector
    embedding_layer = layers.Embedding(
        num_tokens,
        embedding_dim,
        embeddings_initializer=keras.initializers.Constant(embedding_matrix),
        trainable=False,
    )
    int_sequences_input = keras.Input(shape=(None,), dtype="int64")
    embedded_sequences = embedding_layer(int_sequences_input)
    convs = [layers.Conv1D(16, 5, activation="relu") for _ in range(3)]
    pools = [layers.MaxPooling1D(5), layers.MaxPooling1D(5), layers.GlobalMaxPooling1D()]
    x = embedded_sequences
    for conv, pool in zip(convs, pools):
        x = pool(conv(x))
    hidden = layers.Dense(16, activation="relu")
    x = hidden(x)
    x = layers.Dropout(0.5)(x)
    out = layers.Dense(len(class_names), activation="softmax")
    preds = out(x)
    model = keras.Model(int_sequences_input, preds)
    model.compile(loss="sparse_categorical_crossentropy", optimizer="rmsprop", metrics=["acc"])
    x_train = np.asarray(keras.ops.convert_to_numpy(vectorizer(np.array([[s] for s in train_samples]))))
    model.fit(x_train, train_labels, batch_size=64, epochs=1, verbose=0)

    string_input = keras.Input(shape=(1,), dtype="string")
    x = vectorizer(string_input)
    preds = model(x)
    end_to_end_model = keras.Model(string_input, preds)

    def embed(batch):
        return embedding_layer(vectorizer(np.array([[t] for t in batch])))

    def scores(E):
        x = E
        for conv, pool in zip(convs, pools):
            x = pool(conv(x))
        return _dense_logits(out, hidden(x))

    sample = [texts[i][:1500] for i in rng.choice(len(texts), 4, replace=False)]
    return Example("pretrained_embeddings", end_to_end_model, sample, embed, scores)


# ---------------------------------------------------------------------------
# "Text classification with Transformer": subclassed TokenAndPositionEmbedding and
# TransformerBlock (MultiHeadAttention, LayerNormalization), float Input(shape=(maxlen,))
# ---------------------------------------------------------------------------
class TransformerBlock(layers.Layer):
    def __init__(self, embed_dim, num_heads, ff_dim, rate=0.1):
        super().__init__()
        self.att = layers.MultiHeadAttention(num_heads=num_heads, key_dim=embed_dim)
        self.ffn = keras.Sequential(
            [
                layers.Dense(ff_dim, activation="relu"),
                layers.Dense(embed_dim),
            ]
        )
        self.layernorm1 = layers.LayerNormalization(epsilon=1e-6)
        self.layernorm2 = layers.LayerNormalization(epsilon=1e-6)
        self.dropout1 = layers.Dropout(rate)
        self.dropout2 = layers.Dropout(rate)

    def call(self, inputs):
        attn_output = self.att(inputs, inputs)
        attn_output = self.dropout1(attn_output)
        out1 = self.layernorm1(inputs + attn_output)
        ffn_output = self.ffn(out1)
        ffn_output = self.dropout2(ffn_output)
        return self.layernorm2(out1 + ffn_output)


class TokenAndPositionEmbedding(layers.Layer):
    def __init__(self, maxlen, vocab_size, embed_dim):
        super().__init__()
        self.token_emb = layers.Embedding(input_dim=vocab_size, output_dim=embed_dim)
        self.pos_emb = layers.Embedding(input_dim=maxlen, output_dim=embed_dim)

    def call(self, x):
        maxlen = ops.shape(x)[-1]
        positions = ops.arange(start=0, stop=maxlen, step=1)
        positions = self.pos_emb(positions)
        x = self.token_emb(x)
        return x + positions


def transformer() -> Example:
    vocab_size, maxlen = 2000, 24
    texts, labels = _sst2(512)
    tokenizer = layers.TextVectorization(max_tokens=vocab_size)
    tokenizer.adapt(texts)
    x_train = keras.utils.pad_sequences([r[r != 0] for r in np.asarray(tokenizer(texts))], maxlen=maxlen)
    embed_dim, num_heads, ff_dim = 8, 2, 8

    inputs = layers.Input(shape=(maxlen,))
    embedding_layer = TokenAndPositionEmbedding(maxlen, vocab_size, embed_dim)
    x = embedding_layer(inputs)
    transformer_block = TransformerBlock(embed_dim, num_heads, ff_dim)
    x = transformer_block(x)
    pool = layers.GlobalAveragePooling1D()
    x = pool(x)
    x = layers.Dropout(0.1)(x)
    hidden = layers.Dense(8, activation="relu")
    x = hidden(x)
    x = layers.Dropout(0.1)(x)
    out = layers.Dense(2, activation="softmax")
    outputs = out(x)
    model = keras.Model(inputs=inputs, outputs=outputs)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x_train.astype("float32"), labels, batch_size=64, epochs=1, verbose=0)

    def scores(E):
        x = E + embedding_layer.pos_emb(ops.arange(0, maxlen, 1))
        return _dense_logits(out, hidden(pool(transformer_block(x))))

    batch = x_train[:4].astype("float32")  # the example feeds float ids
    return Example("transformer", model, batch, lambda ids: embedding_layer.token_emb(ids), scores,
                   transformer=True)


BUILDERS = {
    "from_scratch": from_scratch,
    "bidirectional_lstm": bidirectional_lstm,
    "pretrained_embeddings": pretrained_embeddings,
    "transformer": transformer,
}

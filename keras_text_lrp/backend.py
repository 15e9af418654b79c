"""The backend shim: the little that ``keras.ops`` does not offer.

Rules are written with ``keras.ops``; they need two more things from the
backend: a vector-Jacobian product (to route relevance the way the gradient
routes it, and to apply the transpose of a linear layer) and a compiler that
turns the whole analysis into one traced function.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import keras

from keras_text_lrp.errors import InvalidModelError

__all__ = ["name", "vjp", "compile_fn", "SUPPORTED"]

SUPPORTED = ("tensorflow", "jax")


def name() -> str:
    """The Keras backend in use, checked to be one keras_text_lrp supports."""
    backend = keras.backend.backend()
    if backend not in SUPPORTED:
        raise InvalidModelError(
            f"keras_text_lrp runs on the Keras backends {SUPPORTED}, but Keras uses "
            f"{backend!r}; set KERAS_BACKEND=tensorflow or KERAS_BACKEND=jax before importing keras."
        )
    return backend


def vjp(fn: Callable[..., Any], *primals: Any) -> tuple[Any, Callable[[Any], list[Any]]]:
    """Evaluate ``fn(*primals)`` and return it with its pullback.

    The pullback maps a cotangent shaped like the output (a tensor, or a list of
    tensors for a list output) to the list of cotangents of the primals;
    primals the output does not depend on get zeros.
    """
    if name() == "jax":
        import jax

        out, pullback = jax.vjp(fn, *primals)
        return out, lambda cot: list(pullback(cot))

    import tensorflow as tf

    # One tensor passed in two slots (``Add()([x, x])``, a Dropout that returns its input) must
    # give each slot its own cotangent; the tape would give each the sum of both.
    primals = tuple(tf.identity(p) for p in primals)
    with tf.GradientTape(persistent=True) as tape:
        for p in primals:
            tape.watch(p)
        out = fn(*primals)

    def pullback(cot: Any) -> list[Any]:
        return list(
            tape.gradient(
                out,
                list(primals),
                output_gradients=cot,
                unconnected_gradients=tf.UnconnectedGradients.ZERO,
            )
        )

    return out, pullback


def compile_fn(
    fn: Callable[..., Any], variables: Sequence[Any], jit_compile: bool | None = None
) -> Callable[..., Any]:
    """Trace ``fn`` into one compiled function.

    On TensorFlow this is ``tf.function`` (XLA when ``jit_compile``); on JAX it
    is ``jax.jit`` with the model's ``variables`` passed as arguments through a
    ``keras.StatelessScope`` instead of being baked in as constants.
    """
    if name() == "jax":
        import jax

        variables = list(variables)

        def stateless(values, *args):
            with keras.StatelessScope(state_mapping=list(zip(variables, values))):
                return fn(*args)

        jitted = jax.jit(stateless)
        return lambda *args: jitted([v.value for v in variables], *args)

    import tensorflow as tf

    return tf.function(_Traced(fn), jit_compile=bool(jit_compile), reduce_retracing=True, autograph=False)


class _Traced:
    """``fn`` as a callable object, one per compiled function.

    TensorFlow counts traces per *code object* of the traced Python function,
    so the closures of many analyzers (one ``run`` each, traced once each)
    would count as one function retracing on every new analyzer, and print
    the "triggered tf.function retracing" warning. An object without
    ``__code__`` is counted by itself: a warning then means that this one
    compiled function really retraces.
    """

    def __init__(self, fn: Callable[..., Any]):
        self.fn = fn

    def __call__(self, *args: Any) -> Any:
        return self.fn(*args)


def normal(shape: Any, seed: Any, dtype: str = "float32") -> Any:
    """Standard normal noise from a traced ``int32`` seed pair ``(seed, stream)``.

    ``keras.random`` takes only Python ints as stateless seeds; this takes a
    tensor, so a compiled analysis can draw fresh, reproducible noise per batch.
    """
    if name() == "jax":
        import jax

        key = jax.random.fold_in(jax.random.PRNGKey(seed[0]), seed[1])
        return jax.random.normal(key, shape, dtype=dtype)
    import tensorflow as tf

    return tf.random.stateless_normal(shape, seed=seed, dtype=dtype)

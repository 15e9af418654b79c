"""Every public name of the documented modules has a docstring, and the docstrings' examples run."""

import doctest
import importlib
import inspect

import pytest

#: The modules of the API reference (docs/api.md).
MODULES = [
    "keras_text_lrp",
    "keras_text_lrp.analyzers.registry",
    "keras_text_lrp.analyzers.base",
    "keras_text_lrp.analyzers.gradient",
    "keras_text_lrp.analyzers.lrp",
    "keras_text_lrp.analyzers.attention",
    "keras_text_lrp.explain",
    "keras_text_lrp.models",
    "keras_text_lrp.model_tools",
    "keras_text_lrp.text",
    "keras_text_lrp.views",
    "keras_text_lrp.callbacks",
    "keras_text_lrp.evaluation",
    "keras_text_lrp.streaming",
    "keras_text_lrp.export",
    "keras_text_lrp.errors",
]


def public_names(module):
    names = getattr(module, "__all__", None)
    if names is None:
        names = [n for n, v in vars(module).items() if not n.startswith("_")
                 and getattr(v, "__module__", None) == module.__name__]
    return list(names)


def undocumented(module) -> list[str]:
    """Public functions, classes and their own public methods/properties without a docstring."""
    missing = []
    for name in public_names(module):
        obj = getattr(module, name)
        if not (inspect.isclass(obj) or inspect.isfunction(obj)):
            continue  # constants: documented in the module docstring
        if not (obj.__doc__ or "").strip():
            missing.append(f"{module.__name__}.{name}")
        if inspect.isclass(obj):
            for attr, value in vars(obj).items():
                if attr.startswith("_"):
                    continue
                target = value.fget if isinstance(value, property) else value
                if inspect.isfunction(target) and not (target.__doc__ or "").strip():
                    # An override documented by the base class counts (inspect.getdoc inherits it).
                    if not inspect.getdoc(getattr(obj, attr)):
                        missing.append(f"{module.__name__}.{name}.{attr}")
    return missing


def test_the_check_finds_a_missing_docstring():
    import types

    fake = types.ModuleType("fake")

    def documented():
        """Yes."""

    def bare():
        pass

    class Thing:
        """A thing."""

        def method(self):
            pass

    for f in (documented, bare, Thing):
        f.__module__ = "fake"
    fake.__all__ = ["documented", "bare", "Thing"]
    fake.documented, fake.bare, fake.Thing = documented, bare, Thing
    assert undocumented(fake) == ["fake.bare", "fake.Thing.method"]


@pytest.mark.parametrize("name", MODULES)
def test_public_names_have_docstrings(name):
    module = importlib.import_module(name)
    assert (module.__doc__ or "").strip(), f"module {name} has no docstring"
    assert undocumented(module) == []


@pytest.mark.parametrize("name", [*MODULES, "keras_text_lrp.text.vocab", "keras_text_lrp.text.tokenize",
                                  "keras_text_lrp.text.relevance", "keras_text_lrp.views.colors"])
def test_docstring_examples_run(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0

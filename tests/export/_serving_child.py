"""Run exported signatures in a Python where keras_text_lrp cannot be imported.

Started by test_export_serving.py as ``python -I -S _serving_child.py SPEC``:
the SavedModels are loaded with plain ``tf.saved_model.load``, those listed in
the spec's ``"twice"`` a second time (determinism across loads), and every call
of the spec is run on each load (calls expected to fail: on the first only).
Outputs go to ``<out>.npz`` (key ``"<call>/<load>/<output>"``), errors and
facts about this interpreter to ``<out>.json``.
"""

import json
import os
import sys
import time

started = time.perf_counter()

sys.path.extend(p for p in os.environ.get("KTL_SITE_PACKAGES", "").split(os.pathsep) if p)

facts = {"isolated": bool(sys.flags.isolated), "no_site": bool(sys.flags.no_site), "cwd": os.getcwd()}
try:
    import keras_text_lrp  # noqa: F401

    facts["keras_text_lrp_import"] = "succeeded: " + str(keras_text_lrp.__file__)
except ImportError as error:
    facts["keras_text_lrp_import"] = f"failed: {type(error).__name__}: {error}"

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

with open(sys.argv[1], encoding="utf-8") as handle:
    spec = json.load(handle)

facts["seconds_import"] = time.perf_counter() - started
loads = {
    case: [tf.saved_model.load(folder) for _ in range(2 if case in spec["twice"] else 1)]
    for case, folder in spec["exports"].items()
}
facts["seconds_load"] = time.perf_counter() - started - facts["seconds_import"]
facts["signatures"] = {case: sorted(objs[0].signatures) for case, objs in loads.items()}

arrays, errors = {}, {}
for i, call in enumerate(spec["calls"]):
    for k, loaded in enumerate(loads[call["case"]][: 1 if call.get("fails") else None]):
        fn = loaded.signatures[call["signature"]]
        kwargs = {}
        for name, value in call["inputs"].items():
            if value["dtype"] == "string":
                kwargs[name] = tf.constant(value["value"], tf.string, shape=value["shape"])
            else:
                kwargs[name] = tf.constant(np.asarray(value["value"], value["dtype"]).reshape(value["shape"]))
        try:
            out = fn(**kwargs)
        except Exception as error:  # noqa: BLE001 - the test inspects what was raised
            errors[f"{i}/{k}"] = {"type": type(error).__name__, "message": str(error)[:2000]}
            continue
        for name, tensor in out.items():
            value = tensor.numpy()
            if value.dtype == object:  # strings: bytes -> str, so that no pickling is needed
                value = np.char.decode(value.astype(bytes), "utf-8")
            arrays[f"{i}/{k}/{name}"] = value

facts["seconds_total"] = time.perf_counter() - started
np.savez(spec["out"] + ".npz", **arrays)
with open(spec["out"] + ".json", "w", encoding="utf-8") as handle:
    json.dump({"facts": facts, "errors": errors}, handle)

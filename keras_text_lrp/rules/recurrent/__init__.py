"""LSTM-aware LRP: rules for LSTM, GRU, SimpleRNN and Bidirectional.

Implements SEMANTICS.md, "Recurrent layers" (Arras et al. 2017): the layer's
forward recurrence is run with its own weights, keeping the gates and states,
then the relevance recurrence runs backwards in time. The LRP analyzers run
the forward part in the engine's forward pass
(:meth:`RecurrentRule.forward`, ``Composite.recurrent_forward``), so the
recurrence is computed once; as a plain rule it is recomputed.

Batching. Both recurrences run inside the traced analysis function as one
``keras.ops.scan`` each over the time axis, batched over the sentences (padded
to one length; masked steps carry the state and its relevance unchanged).
Everything that does not depend on the carried relevance is taken out of the
loops and computed for all steps at once: the input projections ``x W``
before the forward scan; gate values, the split fractions of every sum and
product and the linear rules' denominators before the backward scan; and the
input relevances after it, from the per-step scaled relevances ``s_t`` that
the backward scan emits (``R_x = x * (s W^T) [+ bias share]``). Inside the
backward loop only the ``h_{t-1}`` part remains: element-wise products and one
``(batch, k) @ (k, units)`` matmul per step (``k = units`` under
``signal_take_all``, where only the LSTM candidate receives relevance).

Linear maps inside a cell (gate and candidate pre-activations) take the
analyzer's linear rule (:func:`cell_rules`): epsilon (with ``bias_factor``,
fan-in ``N = input_dim + units``), z, alpha-beta, w-square or flat; the sums
``c_t = f*c_{t-1} + i*g`` (LSTM) and ``h_t = z*h_{t-1} + (1-z)*hh`` (GRU) are
split by the epsilon rule of epsilon analyzers and by the z rule (safe
divide, as for ``Add``) otherwise.

Where SEMANTICS.md is silent: with ``bias_factor > 0`` the stabiliser share of
the GRU's ``h_t`` sum is spread over its ``2*units`` lower units as for the
LSTM's ``c_t``; the GRU candidate with ``reset_after=True`` is a map over ``x``
and one reset product ``r_j*(h U_h + b_rh)_j`` per unit (fan-in
``input_dim + 1``), ``h U_h + b_rh`` a map of its own (fan-in ``units``), and with
``reset_after=False`` one map over ``x`` and ``r*h_{t-1}`` (fan-in
``input_dim + units``); relevance given to the gate ``1 - z`` joins ``z``'s
pre-activation; "proportional" and "abs" use the safe divide. Relevance at a
masked step's output joins the carried state (keras outputs the carried
state there), except where keras outputs 0 (Bidirectional sequences,
``zero_output_for_mask``). Relevance reaching the zero initial states is dropped.

Package layout: :mod:`.support` (which layers and calls are supported, the
gate rules' names), :mod:`.cells` (linear maps inside a cell), :mod:`.gates`
(sum and product splits), :mod:`.common` (the time scan), :mod:`.lstm`,
:mod:`.gru`, :mod:`.simple_rnn` (the recurrences) and :mod:`.rule`
(:class:`RecurrentRule`).
"""

from keras_text_lrp.rules.recurrent.cells import cell_rules
from keras_text_lrp.rules.recurrent.gates import product_rule
from keras_text_lrp.rules.recurrent.rule import RecurrentRule, is_factory
from keras_text_lrp.rules.recurrent.support import (
    GATE_RULES,
    check_gate_rule,
    check_recurrent_calls,
    check_recurrent_layer,
)

__all__ = [
    "GATE_RULES",
    "RecurrentRule",
    "cell_rules",
    "check_gate_rule",
    "check_recurrent_layer",
    "check_recurrent_calls",
    "is_factory",
    "product_rule",
]

"""Cost and receptive-field analysis: MACs, FLOPs (forward and backward), parameters, activation memory,
receptive fields and measured speed of any model, traced from a real forward pass."""
from .cost import Call, Cost, compare_separable, conv_cost, get_rule, register_rule
from .op_cost import get_op_rule, register_op_rule
from .receptive_field import (AxisRF, conv_rf, conv_transpose_rf, merge_rf, receptive_field, register_rf_rule,
                              stack_rf, upsample_rf)
from .summary import Row, Summary, summary

__all__ = [
    "summary", "Summary", "Row", "conv_cost", "compare_separable", "receptive_field",
    "register_rule", "register_op_rule", "register_rf_rule", "get_rule", "get_op_rule", "Call", "Cost",
    "AxisRF", "conv_rf", "conv_transpose_rf", "upsample_rf", "stack_rf", "merge_rf",
]

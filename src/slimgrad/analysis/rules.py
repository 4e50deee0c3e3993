"""Finding the analysis rule for a layer: along its class's MRO, a user's registered rule first, then a
built-in one for the :mod:`slimgrad.nn` class of that name."""
from __future__ import annotations


def lookup_rule(module, user_rules: dict, builtin_rules: dict):
    """The rule for ``module``: for each class of its MRO, ``user_rules[cls]`` (keyed by class), else the
    ``builtin_rules`` entry (keyed by the name of a :mod:`slimgrad.nn` class); None if no class has one."""
    from .. import nn  # at lookup time: the rule tables name nn classes as strings

    builtins = {getattr(nn, name): rule for name, rule in builtin_rules.items()
                if isinstance(getattr(nn, name, None), type)}
    for cls in type(module).__mro__:
        if cls in user_rules:
            return user_rules[cls]
        if cls in builtins:
            return builtins[cls]
    return None

"""No template prints None. StrictUndefined catches a missing name; an empty field (a
store without an address, a visit without a mileage) is a present name whose value is None,
which Jinja would print as ``None`` — ``到店地址:None。`` in a customer's SMS.

Every way a value becomes text is guarded, so an empty value fails the preview like an
undefined name, naming the template line, unless the template says what to print instead
(``{{ store.address or "…" }}``, ``{{ x|default("…", true) }}``, ``{% if x %}…{% endif %}``):

- an output expression ``{{ x }}`` (Jinja's ``finalize``);
- a concatenation ``a ~ b`` (the code generator passes each part through the check);
- the filters that turn values into text (``join``, ``string``, ``format``, ``upper``, …),
  for the value and, for ``join``, every item.
"""

from __future__ import annotations

import functools
from typing import Any

import jinja2
from jinja2.compiler import CodeGenerator, Frame
from jinja2.nodes import Concat
from jinja2.sandbox import ImmutableSandboxedEnvironment

HINT = (
    "prints an empty value (None); say what to print when it is empty, e.g. "
    "{{ x or '…' }}, {{ x|default('…', true) }} or {% if x %}…{% endif %}"
)
# Built-in filters that turn their value into text.
TEXT_FILTERS = (
    "capitalize", "center", "e", "escape", "format", "forceescape", "indent", "lower",
    "replace", "string", "striptags", "title", "trim", "truncate", "upper", "urlencode",
    "urlize", "wordcount", "wordwrap",
)  # fmt: skip


class EmptyValueError(jinja2.UndefinedError):
    """A template printed None."""


def printable(value: Any) -> Any:
    """``value`` unchanged, or EmptyValueError when it is None."""
    if value is None:
        raise EmptyValueError(HINT)
    return value


class _Generator(CodeGenerator):
    def visit_Concat(self, node: Concat, frame: Frame) -> None:
        # `a ~ b` joins str() of its parts: check each one first.
        func_name = "markup_join" if frame.eval_ctx.autoescape else "str_join"
        if frame.eval_ctx.volatile:
            func_name = "(markup_join if context.eval_ctx.volatile else str_join)"
        self.write(f"{func_name}((")
        for arg in node.nodes:
            self.write("environment.printable(")
            self.visit(arg, frame)
            self.write("), ")
        self.write("))")


# What ``getattr`` finds on a plain dict: its methods (the sandbox vets those; every other
# name of a dict is one of its keys).
_DICT_ATTRIBUTES = frozenset(dir(dict))


class NoneRefusingEnvironment(ImmutableSandboxedEnvironment):
    """The sandboxed environment in which printing None is an error.

    Render contexts are plain dicts, lists, strings, numbers and dates: ``x.name`` on a dict
    reads its key directly, as the sandbox would after Python's attribute lookup failed —
    without raising and catching that AttributeError for every field a template prints. A
    dict's own attributes (``items``, ``__class__``, …) and every other object still go
    through the sandbox's checks."""

    code_generator_class = _Generator

    def __init__(self, **options: Any) -> None:
        super().__init__(finalize=printable, **options)

    def printable(self, value: Any) -> Any:
        return printable(value)

    def getattr(self, obj: Any, attribute: str) -> Any:
        if type(obj) is dict and attribute not in _DICT_ATTRIBUTES:
            try:
                return obj[attribute]
            except KeyError:
                return self.undefined(obj=obj, name=attribute)
        return super().getattr(obj, attribute)


def _guarded(name: str, fn: Any) -> Any:
    @functools.wraps(fn)
    def check(*args: Any, **kwargs: Any) -> Any:
        # Filters that take the evaluation context get it first.
        given = args[1:] if getattr(fn, "jinja_pass_arg", None) else args
        # format: the arguments too (`'%s'|format(x)`); the others: the value itself.
        for value in [*given, *kwargs.values()] if name == "format" else given[:1]:
            printable(value)
        return fn(*args, **kwargs)

    return check


def _join(environment: jinja2.Environment) -> Any:
    builtin = environment.filters["join"]

    @jinja2.pass_eval_context
    def join(eval_ctx: Any, value: Any, d: str = "", attribute: Any = None) -> str:
        items = list(printable(value))
        if attribute is not None:
            getter = jinja2.filters.make_attrgetter(environment, attribute)
            items = [getter(item) for item in items]
        for item in items:
            printable(item)
        return str(builtin(eval_ctx, items, d))

    return join


def guard_filters(environment: jinja2.Environment) -> None:
    """Make the text-producing filters refuse None (``join`` also refuses None items)."""
    for name in TEXT_FILTERS:
        if name in environment.filters:
            environment.filters[name] = _guarded(name, environment.filters[name])
    environment.filters["join"] = _join(environment)

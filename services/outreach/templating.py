"""Message templates: Jinja2 in a sandbox, per language, checked before a campaign launches.

Staff write templates; the sandbox keeps them away from Python internals, and
StrictUndefined turns a misspelt variable into an error at the preview instead of a blank
in ten thousand messages.

A rendered subject or body holds at most MAX_RENDERED characters, and the limit holds while
rendering, not only after it: a template such as `{{ name * 10**9 }}`, a loop over a long
string inside another, or a value doubled by `{% set %}` thirty times would otherwise build
gigabytes in the worker before any length is checked. So the environment

- measures every `*`, `+` and `~` before computing it and refuses a string or list past the
  limit, and an integer past MAX_INTEGER_BITS (`**` too); `%` formatting of strings, whose
  widths are sizes, is refused; every value is measured as text before it is output or
  handed to a filter (a list of many references to one long string is small until then);
- offers only filters that cannot multiply their input (`replace` and `join` are measured),
  and calls only the read-only string methods in SAFE_METHODS (no macros, no `format`);
- refuses the tags that render a block into a variable (`{% set %}…{% endset %}`,
  `{% filter %}`, `{% call %}`, `{% macro %}`), whose output would bypass the next point;
- renders as a stream and stops as soon as the output passes the limit.

The preview and the launch check render every step, so a template over the limit is
refused there, with the field (`id.body`, `en.subject`) named.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from functools import lru_cache, wraps
from typing import Any

from jinja2 import StrictUndefined, TemplateAssertionError, TemplateError, nodes
from jinja2.compiler import CodeGenerator, Frame, optimizeconst
from jinja2.exceptions import SecurityError
from jinja2.filters import FILTERS
from jinja2.sandbox import ImmutableSandboxedEnvironment

from shared.i18n import translated as _

MAX_RENDERED = 64 * 1024  # characters of one rendered subject or body
MAX_INTEGER_BITS = 256  # far past any number a message shows; keeps ** and * cheap
MAX_LOOP_STEPS = 1000  # iterations of all `{% for %}` loops together, per rendered field
# Read-only string methods that return something no longer than the string.
SAFE_METHODS = frozenset({
    "capitalize", "casefold", "endswith", "isalnum", "isalpha", "isdigit", "islower",
    "isspace", "istitle", "isupper", "lower", "lstrip", "rstrip", "startswith", "strip",
    "swapcase", "title", "upper",
})
# Filters that return at most about their input's size (replace and join are measured).
SAFE_FILTERS = (
    "abs", "capitalize", "count", "d", "default", "e", "escape", "first", "float", "int",
    "last", "length", "lower", "max", "min", "reverse", "round", "string", "title", "trim",
    "truncate", "upper", "wordcount",
)
# Tags whose rendered output goes into a value instead of the stream, and imports.
REFUSED_TAGS: dict[type[nodes.Node], str] = {
    nodes.AssignBlock: "{% set %}…{% endset %}",
    nodes.FilterBlock: "{% filter %}",
    nodes.CallBlock: "{% call %}",
    nodes.Macro: "{% macro %}",
    nodes.Extends: "{% extends %}",
    nodes.Include: "{% include %}",
    nodes.Import: "{% import %}",
    nodes.FromImport: "{% from … import %}",
}


class TemplateProblem(ValueError):
    """A template that does not render; says which part and why."""


class _TooLarge(SecurityError):
    """A value or an output past the limits; said in the field's words by `render`."""


def _size(value: Any) -> int:
    return len(value) if isinstance(value, str | list | tuple) else 0


def _check_binop(operator: str, left: Any, right: Any) -> None:
    """Refuse `left operator right` before computing it when the result would be too big."""
    if operator == "%" and isinstance(left, str):
        raise SecurityError("% formatting of text")
    integers = type(left) is int and type(right) is int
    if operator == "*":
        if integers and left.bit_length() + right.bit_length() > MAX_INTEGER_BITS:
            raise _TooLarge("number")
        for sequence, times in ((left, right), (right, left)):
            if _size(sequence) and type(times) is int and _size(sequence) * times > MAX_RENDERED:
                raise _TooLarge("text")
    elif operator == "**":
        if integers and right > 0 and abs(left) > 1 and (
            right > MAX_INTEGER_BITS or left.bit_length() * right > MAX_INTEGER_BITS
        ):
            raise _TooLarge("number")
    elif operator == "+" and _size(left) + _size(right) > MAX_RENDERED:
        raise _TooLarge("text")


def _measure(value: Any, budget: int = MAX_RENDERED) -> int:
    """About how many characters `str(value)` has; counting stops once past `budget`.

    A list of a thousand references to one long string is small in memory and huge as text:
    every place that turns a value into text (output, `~`, filters) measures it first. Each
    item counts at least 2 (its separator), so at most about `budget` items are visited.
    """
    if isinstance(value, str):
        return len(value)
    if isinstance(value, list | tuple | set | frozenset | dict):
        total = 2
        for item in value.items() if isinstance(value, dict) else value:
            total += 2 + _measure(item, budget - total)
            if total > budget:
                break
        return total
    if isinstance(value, int):
        return value.bit_length() // 3 + 2
    return 32  # a float, None, a loop's repr: short


def _check_text(*values: Any) -> None:
    if sum(_measure(value) for value in values) > MAX_RENDERED:
        raise _TooLarge("text")


def _finalized(value: Any) -> Any:
    """Every `{{ … }}`, measured before Jinja turns it into text."""
    _check_text(value)
    return value


def _guarded(filter_: Any) -> Any:
    """A filter whose arguments are measured first (filters turn their input into text)."""

    @wraps(filter_)  # keeps Jinja's pass_environment/pass_eval_context marks
    def guarded(*args: Any, **kwargs: Any) -> Any:
        _check_text(*args, *kwargs.values())
        return filter_(*args, **kwargs)

    return guarded


def _joined(parts: Iterable[Any]) -> str:
    """`a ~ b ~ c`, measured before it is built."""
    parts = list(parts)
    _check_text(*parts)
    return "".join(str(part) for part in parts)


def _replace(value: Any, old: str, new: str, count: int | None = None) -> str:
    text, old, new = str(value), str(old), str(new)
    hits = text.count(old) if old else len(text) + 1
    if count is not None and count >= 0:
        hits = min(hits, count)
    if len(text) + hits * max(0, len(new) - len(old)) > MAX_RENDERED:
        raise _TooLarge("text")
    return text.replace(old, new, -1 if count is None else count)


# Loop steps left in the render under way: loops cost time even when they print nothing.
_steps_left: ContextVar[list[int]] = ContextVar("template_steps_left")


def _counted(items: Iterable[Any]) -> Iterator[Any]:
    """The items of a `{% for %}`, counted against MAX_LOOP_STEPS for the whole render."""
    left = _steps_left.get()
    for item in items:
        left[0] -= 1
        if left[0] < 0:
            raise _TooLarge("loop")
        yield item


def _join(value: Iterable[Any], separator: str = "") -> str:
    items = [str(item) for item in value]
    if sum(map(len, items)) + len(separator) * max(0, len(items) - 1) > MAX_RENDERED:
        raise _TooLarge("text")
    return separator.join(items)


class _MeasuredCodeGenerator(CodeGenerator):
    """Jinja's code generator with `~` going through `_joined` (it has no hook for it)."""

    @optimizeconst
    def visit_Concat(self, node: nodes.Concat, frame: Frame) -> None:
        self.write("environment.joined((")
        for argument in node.nodes:
            self.visit(argument, frame)
            self.write(", ")
        self.write("))")


class _MessageEnvironment(ImmutableSandboxedEnvironment):
    code_generator_class = _MeasuredCodeGenerator
    intercepted_binops = frozenset({"*", "**", "+", "%"})
    joined = staticmethod(_joined)

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        _check_binop(operator, left, right)
        return super().call_binop(context, operator, left, right)

    def is_safe_callable(self, obj: Any) -> bool:
        return isinstance(getattr(obj, "__self__", None), str) and (
            getattr(obj, "__name__", "") in SAFE_METHODS
        )


# Autoescape is off: these are plain-text messages (email text part, SMS, WhatsApp); no
# HTML part is sent, so a name like "<script>" arrives as text. The sandbox refuses `_`
# attributes, function internals and methods that change data (docs/security.md); the
# default globals (range, cycler, joiner, lipsum, namespace, dict) are removed too: a
# message needs only the variables in VARIABLES.
_environment = _MessageEnvironment(undefined=StrictUndefined, autoescape=False,
                                   finalize=_finalized)
_environment.globals.clear()
_environment.filters = {
    name: _guarded(filter_) for name, filter_ in (
        *((name, FILTERS[name]) for name in SAFE_FILTERS),
        ("replace", _replace), ("join", _join),
    )
}
_environment.filters["counted_steps"] = _counted
VARIABLES = ("name", "program", "cohort", "survey_link", "unsubscribe_link", "wave_title", "centre")
MAX_SMS_LENGTH = 459  # three concatenated GSM segments


@dataclass(frozen=True)
class Rendered:
    subject: str | None
    body: str


@lru_cache(maxsize=256)
def _compiled(source: str) -> Any:
    # A campaign renders the same few sources for every recipient: compile each once.
    # The tags that render into a value are refused before anything is compiled, and every
    # loop's items pass through `counted_steps`.
    tree = _environment.parse(source)
    for node_type, tag in REFUSED_TAGS.items():
        if next(tree.find_all(node_type), None) is not None:
            raise SecurityError(f"{tag} is not available in messages")
    for loop in tree.find_all(nodes.For):
        loop.iter = nodes.Filter(loop.iter, "counted_steps", [], [], None, None,
                                 lineno=loop.lineno)
    return _environment.from_string(tree)


def _streamed(chunks: Iterator[str]) -> str:
    """The rendered text, stopping as soon as it passes MAX_RENDERED."""
    kept: list[str] = []
    size = 0
    for chunk in chunks:
        size += len(chunk)
        if size > MAX_RENDERED:
            raise _TooLarge("text")
        kept.append(chunk)
    return "".join(kept)


def _render_field(texts: dict[str, Any], part: str, language: str,
                  context: dict[str, Any]) -> str:
    field = f"{language}.{part}"
    steps = _steps_left.set([MAX_LOOP_STEPS])
    try:
        return _streamed(_compiled(texts[part]).generate(context)).strip()
    except _TooLarge as exc:
        if str(exc) == "loop":
            raise TemplateProblem(_(
                "%(field)s: the loops in this template repeat more than %(limit)d times.",
                field=field, limit=MAX_LOOP_STEPS)) from None
        if str(exc) == "number":
            raise TemplateProblem(_(
                "%(field)s: a number in this template is too large.", field=field)) from None
        raise TemplateProblem(_(
            "%(field)s: the message would be longer than %(limit)d characters once filled in; "
            "shorten it.", field=field, limit=MAX_RENDERED)) from None
    except (SecurityError, TemplateAssertionError) as exc:  # the latter: a filter not offered
        raise TemplateProblem(f"{field}: not allowed in a message template: {exc}") from exc
    except TemplateError as exc:
        raise TemplateProblem(f"{field}: {type(exc).__name__}: {exc}") from exc
    except (ArithmeticError, LookupError, TypeError, ValueError, RecursionError) as exc:
        # 1/0, float overflow, a wrong argument: the template's fault, said at the preview.
        raise TemplateProblem(f"{field}: {type(exc).__name__}: {exc}") from exc
    finally:
        _steps_left.reset(steps)


def render(template: dict[str, Any], language: str, context: dict[str, Any]) -> Rendered:
    """Render a step template {"id": {"subject", "body"}, "en": {...}} for one recipient."""
    chosen = language if template.get(language) else "id"
    texts = template.get(chosen) or {}
    if not texts.get("body"):
        raise TemplateProblem(f"no message text for language {language!r}")
    subject = (
        _render_field(texts, "subject", chosen, context) if texts.get("subject") else None
    )
    return Rendered(subject, _render_field(texts, "body", chosen, context))


def check(
    template: dict[str, Any], language: str, channel: str, context: dict[str, Any]
) -> str | None:
    """Why this template fails for this recipient on this channel, or None."""
    try:
        rendered = render(template, language, context)
    except TemplateProblem as exc:
        return str(exc)
    if channel == "email" and not rendered.subject:
        return "an email needs a subject"
    if channel == "sms" and len(rendered.body) > MAX_SMS_LENGTH:
        return (
            f"an SMS may have at most {MAX_SMS_LENGTH} characters, this one has "
            f"{len(rendered.body)}"
        )
    return None


INVITATION = {
    "id": {
        "subject": "Tracer study {{ centre }}: bagaimana kabar Anda setelah pelatihan?",
        "body": (
            "Halo {{ name }},\n\n"
            "Anda alumni pelatihan {{ program }} ({{ cohort }}). {{ centre }} ingin tahu "
            "kabar Anda sekarang: bekerja, berwirausaha, atau masih mencari kerja. "
            "Jawaban Anda membantu kami memperbaiki pelatihan dan penempatan kerja.\n\n"
            "Isi survei singkat ini (sekitar 7 menit):\n{{ survey_link }}\n\n"
            "Terima kasih.\n\nTidak ingin menerima pesan lagi? {{ unsubscribe_link }}"
        ),
    },
    "en": {
        "subject": "{{ centre }} tracer study: how are you doing after your training?",
        "body": (
            "Hello {{ name }},\n\n"
            "You trained in {{ program }} ({{ cohort }}). {{ centre }} would like to know "
            "how you are doing now: working, running a business or still looking for work. "
            "Your answers help us improve our courses and job placement.\n\n"
            "Please fill in this short survey (about 7 minutes):\n{{ survey_link }}\n\n"
            "Thank you.\n\nNo more messages? {{ unsubscribe_link }}"
        ),
    },
}
REMINDER = {
    "id": {
        "subject": "Pengingat: survei alumni {{ centre }}",
        "body": (
            "Halo {{ name }}, kami belum menerima jawaban Anda untuk survei alumni "
            "{{ program }}. Hanya 7 menit:\n{{ survey_link }}\n\n"
            "Berhenti berlangganan: {{ unsubscribe_link }}"
        ),
    },
    "en": {
        "subject": "Reminder: {{ centre }} alumni survey",
        "body": (
            "Hello {{ name }}, we have not yet received your answers to the {{ program }} "
            "alumni survey. It takes 7 minutes:\n{{ survey_link }}\n\n"
            "Unsubscribe: {{ unsubscribe_link }}"
        ),
    },
}
SHORT_REMINDER = {
    "id": {
        "body": "Halo {{ name }}, mohon isi survei alumni {{ centre }}: {{ survey_link }} "
        "Balas STOP untuk berhenti."
    },
    "en": {
        "body": "Hello {{ name }}, please fill in the {{ centre }} alumni survey: "
        "{{ survey_link }} Reply STOP to opt out."
    },
}
LAST_CALL = {
    "id": {
        "subject": "Kesempatan terakhir: survei alumni {{ centre }}",
        "body": (
            "Halo {{ name }}, survei alumni {{ program }} segera ditutup. Jawaban Anda "
            "sangat berarti bagi calon peserta pelatihan berikutnya:\n{{ survey_link }}\n\n"
            "Berhenti berlangganan: {{ unsubscribe_link }}"
        ),
    },
    "en": {
        "subject": "Last chance: {{ centre }} alumni survey",
        "body": (
            "Hello {{ name }}, the {{ program }} alumni survey closes soon. Your answers "
            "matter to the next trainees:\n{{ survey_link }}\n\n"
            "Unsubscribe: {{ unsubscribe_link }}"
        ),
    },
}

# The survey-method default (Dillman): invitation, then reminders on days 4, 11, 25, 40,
# switching channel along the way.
DEFAULT_SEQUENCE: tuple[tuple[int, str, dict[str, Any]], ...] = (
    (0, "email", INVITATION),
    (4, "email", REMINDER),
    (11, "whatsapp", SHORT_REMINDER),
    (25, "sms", SHORT_REMINDER),
    (40, "email", LAST_CALL),
)
WHATSAPP_TEMPLATE = "tracer_reminder"  # the approved Cloud API template: {{1}} name, {{2}} link

"""The template renderer: one sandboxed Jinja2 environment with StrictUndefined over the
templates directory, SMS texts measured in segments, call sheets as HTML fragments, and the
preview check that fails a campaign before anything is sent.

Template names: ``sms/<campaign>.<lang>.j2`` and ``calls/<campaign>.<lang>.j2``; a language
without its own template falls back to ``zh``. SMS templates may spread over several lines:
the lines are trimmed and joined (with nothing for zh, with one space for other languages),
so a text is always a single line. Call sheets are autoescaped HTML.
"""

from __future__ import annotations

import traceback
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2
from jinja2.sandbox import ImmutableSandboxedEnvironment

from revisit.campaigns.statuses import ChannelKind
from revisit.errors import TemplateError
from revisit.rendering.empty import NoneRefusingEnvironment, guard_filters
from revisit.rendering.filters import FILTERS
from revisit.rendering.optout_hint import hint_in_language
from revisit.rendering.sms_length import sms_segments

FALLBACK_LANGUAGE = "zh"
MAX_REPORTED_PROBLEMS = 20


@dataclass(frozen=True)
class RenderedSms:
    """A rendered SMS: its text, encoding (GSM-7 or UCS-2), length in SMS segments and the
    template it came from."""

    text: str
    encoding: str
    segments: int
    template: str = ""


@dataclass(frozen=True)
class RenderProblem:
    """A template that failed, or rendered too long, for one customer."""

    campaign: str
    customer_id: str
    where: str  # template file:line
    message: str

    def __str__(self) -> str:
        return (
            f"{self.where}: campaign {self.campaign}, customer {self.customer_id}: {self.message}"
        )


class CampaignTemplateError(TemplateError):
    """The templates of a campaign fail (or exceed the segment cap) for some members."""

    def __init__(self, message: str, problems: list[RenderProblem]) -> None:
        super().__init__(message)
        self.problems = problems


class RenderFailure(TemplateError):
    """One render failed; ``where`` is the template's file:line."""

    def __init__(self, message: str, where: str) -> None:
        super().__init__(f"{where}: {message}")
        self.where = where
        self.reason = message


def _autoescape(name: str | None) -> bool:
    return bool(name and name.startswith("calls/"))


def make_environment(templates_dir: Path) -> ImmutableSandboxedEnvironment:
    """The sandboxed environment: no access to Python internals, no mutation of the
    context, and any undefined variable is an error — and so is printing an empty value
    (None), however it reaches the text (see :mod:`revisit.rendering.empty`)."""
    env = NoneRefusingEnvironment(
        loader=jinja2.FileSystemLoader(str(templates_dir)),
        undefined=jinja2.StrictUndefined,
        autoescape=_autoescape,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
        # A renderer lives for one run: the templates it includes are read once, not
        # checked on disk at every render (a file edited meanwhile is the next run's).
        auto_reload=False,
    )
    env.filters.update(FILTERS)
    guard_filters(env)
    return env


def _template_location(exc: BaseException, fallback: str) -> str:
    """file:line of the innermost template frame of a render error."""
    if isinstance(exc, jinja2.TemplateSyntaxError) and exc.lineno:
        return f"{exc.filename or exc.name or fallback}:{exc.lineno}"
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename.endswith(".j2")]
    if frames:
        return f"{frames[-1].filename}:{frames[-1].lineno}"
    return fallback


def join_sms_lines(text: str, lang: str) -> str:
    lines = [line.strip() for line in text.splitlines()]
    return ("" if lang == "zh" else " ").join(line for line in lines if line)


class Renderer:
    """Renders SMS texts and call sheets from ``templates_dir``.

    A renderer lives for one run (or preview): each template is found and compiled once,
    on first use, and kept — a template file edited meanwhile is read by the next run."""

    def __init__(self, templates_dir: Path | str) -> None:
        self.templates_dir = Path(templates_dir)
        self.env = make_environment(self.templates_dir)
        self._picked: dict[tuple[Any, ...], tuple[str, str]] = {}
        self._compiled: dict[str, jinja2.Template] = {}

    def template_name(
        self, kind: str, campaign: str, lang: str, templates: Mapping[str, str] | None = None
    ) -> str:
        """The template for ``lang`` — from ``templates`` (a campaign file's language →
        path map) or ``<kind>/<campaign>.<lang>.j2`` — falling back to zh; TemplateError
        if neither exists."""
        return self._pick(kind, campaign, lang, templates)[0]

    def _pick(
        self, kind: str, campaign: str, lang: str, templates: Mapping[str, str] | None
    ) -> tuple[str, str]:
        key = (kind, campaign, lang, tuple(templates.items()) if templates is not None else None)
        picked = self._picked.get(key)
        if picked is None:
            picked = self._picked[key] = self._find(kind, campaign, lang, templates)
        return picked

    def _find(
        self, kind: str, campaign: str, lang: str, templates: Mapping[str, str] | None
    ) -> tuple[str, str]:
        langs = list(dict.fromkeys((lang, FALLBACK_LANGUAGE)))
        if templates is not None:
            candidates = [(templates[k], k) for k in langs if k in templates]
        else:
            candidates = [(f"{kind}/{campaign}.{k}.j2", k) for k in langs]
        for name, used in candidates:
            if (self.templates_dir / name).is_file():
                return name, used
        tried = ", ".join(name for name, _ in candidates) or f"no {lang} or zh entry"
        raise TemplateError(
            f"campaign {campaign}: no {kind} template for {lang} in {self.templates_dir} "
            f"(tried {tried}); create it or fix the campaign's templates"
        )

    def _render(self, name: str, context: Mapping[str, Any]) -> str:
        try:
            template = self._compiled.get(name)
            if template is None:
                template = self._compiled[name] = self.env.get_template(name)
            return template.render(**context)
        except (jinja2.TemplateError, ValueError, TypeError, LookupError, ArithmeticError) as exc:
            path = str(self.templates_dir / name)
            raise RenderFailure(str(exc), _template_location(exc, path)) from exc

    def render_sms(
        self,
        campaign: str,
        lang: str,
        context: Mapping[str, Any],
        *,
        templates: Mapping[str, str] | None = None,
    ) -> RenderedSms:
        """One SMS text, joined to a single line, with its encoding and segment count."""
        name, used = self._pick("sms", campaign, lang, templates)
        if context.get("opt_out_hint"):  # the same path, in the text's language
            context = {**context, "opt_out_hint": hint_in_language(context, used)}
        text = join_sms_lines(self._render(name, context), used)
        length = sms_segments(text)
        return RenderedSms(text, length.encoding, length.segments, name)

    def render_call_sheet(
        self,
        campaign: str,
        lang: str,
        context: Mapping[str, Any],
        *,
        templates: Mapping[str, str] | None = None,
    ) -> str:
        """The call sheet of one customer, as an HTML fragment."""
        name = self.template_name("calls", campaign, lang, templates)
        return self._render(name, context).strip()

    def check_campaign(
        self,
        campaign: str,
        contexts: Mapping[str, Mapping[str, Any]] | Iterable[Mapping[str, Any]],
        max_segments: int | None = None,
        *,
        channel: str = ChannelKind.SMS,
        templates: Mapping[str, str] | None = None,
        raise_errors: bool = True,
    ) -> list[RenderProblem]:
        """Render every member's text (or call sheet) as a preview does. Every failure and
        every SMS over ``max_segments`` is a problem naming the campaign, the customer and
        the template's file:line; with ``raise_errors`` any problem raises
        :class:`CampaignTemplateError` (a TemplateError) listing them."""
        _, problems = self.render_campaign(
            campaign, contexts, max_segments, channel=channel, templates=templates
        )
        if problems and raise_errors:
            raise CampaignTemplateError(_summary(campaign, problems), problems)
        return problems

    def render_campaign(
        self,
        campaign: str,
        contexts: Mapping[str, Mapping[str, Any]] | Iterable[Mapping[str, Any]],
        max_segments: int | None = None,
        *,
        channel: str = ChannelKind.SMS,
        templates: Mapping[str, str] | None = None,
    ) -> tuple[dict[str, RenderedSms], list[RenderProblem]]:
        """Every member's SMS (customer id → text) and the problems found, as
        :meth:`check_campaign` describes; call sheets are rendered and checked, not kept."""
        items = contexts.values() if isinstance(contexts, Mapping) else contexts
        problems: list[RenderProblem] = []
        texts: dict[str, RenderedSms] = {}
        for ctx in items:
            cid = str(ctx["customer"]["customer_id"])
            lang = str(ctx.get("language") or ctx["customer"].get("language") or "zh")
            try:
                if channel == ChannelKind.CALL:
                    self.render_call_sheet(campaign, lang, ctx, templates=templates)
                    continue
                sms = self.render_sms(campaign, lang, ctx, templates=templates)
            except RenderFailure as exc:
                problems.append(RenderProblem(campaign, cid, exc.where, exc.reason))
                continue
            if max_segments is not None and sms.segments > max_segments:
                where = str(self.templates_dir / sms.template)
                message = (
                    f"{sms.segments} {sms.encoding} segments, over the cap of {max_segments}; "
                    "shorten the template or raise the campaign's segment cap"
                )
                problems.append(RenderProblem(campaign, cid, where, message))
                continue
            texts[cid] = sms
        return texts, problems


def raise_problems(campaign: str, problems: list[RenderProblem]) -> None:
    if problems:
        raise CampaignTemplateError(_summary(campaign, problems), problems)


def _summary(campaign: str, problems: list[RenderProblem]) -> str:
    shown = "\n".join(f"  {p}" for p in problems[:MAX_REPORTED_PROBLEMS])
    more = len(problems) - MAX_REPORTED_PROBLEMS
    tail = f"\n  … and {more} more" if more > 0 else ""
    return (
        f"campaign {campaign}: the template fails for {len(problems)} member(s); "
        f"nothing was sent. Fix the template and preview again.\n{shown}{tail}"
    )

"""The page frame every console page shares: header, navigation, flash messages, the CSRF token."""

from __future__ import annotations

from html import escape
from typing import Any, Sequence

from edge_runtime.console.http import url


def e(value: Any) -> str:
    return escape("" if value is None else str(value), quote=True)


def page(title: str, body: str, session: Any = None, crumbs: Sequence[tuple[str, str]] = (),
         scripts: Sequence[str] = ()) -> str:
    """A whole HTML document; `crumbs` are (label, href) after "Projects"."""
    csrf = session.csrf if session is not None else ""
    messages = session.take_flash() if session is not None else []
    flash = "".join('<p class="flash %s" role="%s">%s</p>' % (e(kind), "alert" if kind == "error" else "status",
                                                              e(text)) for kind, text in messages)
    trail = ['<a href="%s">Projects</a>' % url("/")] + ['<a href="%s">%s</a>' % (e(href), e(label))
                                                        for label, href in crumbs]
    signout = ""
    if session is not None and session.user:
        signout = ('<form method="post" action="%s" class="signout">%s<button type="submit">Sign out</button>'
                   '</form>' % (url("/signout"), csrf_field(session)))
    tags = "".join('<script src="%s" defer></script>' % url("/static/" + name) for name in scripts)
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<meta name="csrf-token" content="%s"><title>%s · edge-runtime console</title>'
        '<link rel="stylesheet" href="%s">%s</head><body>'
        '<header><a class="brand" href="%s">edge-runtime</a><nav>%s</nav>%s</header>'
        '<main><h1>%s</h1>%s<div id="message" class="flash" hidden role="alert"></div>%s</main></body></html>'
        % (e(csrf), e(title), url("/static/console.css"), tags, url("/"), " › ".join(trail), signout, e(title),
           flash, body))


def csrf_field(session: Any) -> str:
    return '<input type="hidden" name="_csrf" value="%s">' % e(session.csrf if session is not None else "")


def form(action: str, session: Any, inner: str, button: str, css: str = "", confirm: str = "") -> str:
    extra = ' data-confirm="%s"' % e(confirm) if confirm else ""
    return ('<form method="post" action="%s" class="%s"%s>%s%s<button type="submit">%s</button></form>'
            % (e(action), e(css), extra, csrf_field(session), inner, e(button)))


def table(headers: Sequence[str], rows: Sequence[Sequence[str]], empty: str = "nothing yet") -> str:
    """Rows are HTML already (escape values with `e`)."""
    if not rows:
        return '<p class="empty">%s</p>' % e(empty)
    head = "".join("<th>%s</th>" % e(h) for h in headers)
    body = "".join("<tr>%s</tr>" % "".join("<td>%s</td>" % cell for cell in row) for row in rows)
    return "<table><thead><tr>%s</tr></thead><tbody>%s</tbody></table>" % (head, body)


def when(moment: Any) -> str:
    """Seconds since the epoch, a datetime, or an ISO string (the packaging store's) as a UTC minute."""
    import datetime as dt

    if not moment:
        return ""
    if isinstance(moment, str):
        try:
            moment = dt.datetime.fromisoformat(moment.replace("Z", "+00:00"))
        except ValueError:
            return moment
    if isinstance(moment, dt.datetime):
        moment = moment.replace(tzinfo=moment.tzinfo or dt.timezone.utc).timestamp()
    return dt.datetime.fromtimestamp(float(moment), dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")

"""GET /docs: the OpenAPI document (`api.openapi`) as a readable page, rendered here on the
server. Nothing is fetched from elsewhere and nothing runs in the browser: one same-origin
stylesheet (/ui/docs.css) and text, every piece of it escaped."""

from __future__ import annotations

import re
from functools import cache
from html import escape
from typing import Any

from aiohttp import web

from .openapi import document, policy_of
from .ui import CSP

NULL = {"type": "null"}
_CONSTRAINTS = (
    ("format", "format {}"),
    ("pattern", "pattern {}"),
    ("minimum", "≥ {}"),
    ("maximum", "≤ {}"),
    ("minLength", "at least {} characters"),
    ("maxLength", "at most {} characters"),
    ("minItems", "at least {} items"),
    ("maxItems", "at most {} items"),
    ("contentMediaType", "{}"),
)


def _text(value: object) -> str:
    """Escaped text, with the document's `code` and **strong** spans kept as such."""
    out = escape(str(value))
    out = re.sub(r"`([^`]+)`", r"<code>\1</code>", out)
    return re.sub(r"\*\*([^*]+)\*\*", r"<strong>\1</strong>", out)


def _paragraphs(text: str) -> str:
    return "".join(f"<p>{_text(' '.join(p.split()))}</p>" for p in text.split("\n\n") if p.strip())


def _ref_name(schema: dict) -> str | None:
    target = schema.get("$ref")
    return target.rsplit("/", 1)[-1] if isinstance(target, str) else None


def _link(name: str) -> str:
    return f'<a href="#schema-{escape(name, quote=True)}">{escape(name)}</a>'


def schema_html(schema: Any, depth: int = 0) -> str:
    """A JSON Schema as nested lists: types, constraints, each property (required marked)."""
    if not isinstance(schema, dict):
        return "<span>any value</span>"
    if depth > 8:
        return "<span>…</span>"
    options = schema.get("anyOf")
    if set(schema) <= {"anyOf", "description"} and isinstance(options, list) and len(options) == 2 and NULL in options:
        other = options[0] if options[1] == NULL else options[1]  # nullable(…): "X or null"
        said = f" — {_text(schema['description'])}" if schema.get("description") else ""
        return schema_html(other, depth) + " <em>or null</em>" + said
    parts: list[str] = []
    name = _ref_name(schema)
    if name:
        parts.append(_link(name))
    kind = schema.get("type")
    if kind is not None:
        kinds = kind if isinstance(kind, list) else [kind]
        parts.append("<em>" + " or ".join(escape(str(k)) for k in kinds) + "</em>")
    if "const" in schema:
        parts.append(f"always <code>{escape(repr_json(schema['const']))}</code>")
    if "enum" in schema:
        parts.append("one of " + ", ".join(f"<code>{escape(repr_json(v))}</code>" for v in schema["enum"]))
    for key, words in _CONSTRAINTS:
        if key in schema:
            parts.append(escape(words.format(schema[key])))
    if "default" in schema:
        parts.append(f"default <code>{escape(repr_json(schema['default']))}</code>")
    if schema.get("description"):
        parts.append(f"— {_text(schema['description'])}" if parts else _text(schema["description"]))
    combined = any(word in schema for word in ("oneOf", "anyOf", "allOf"))
    out = " ".join(parts) or ("" if combined else "<em>any value</em>")
    inner = []
    for word in ("oneOf", "anyOf", "allOf"):
        if word in schema:
            label = {"oneOf": "exactly one of", "anyOf": "any of", "allOf": "all of"}[word]
            items = "".join(f"<li>{schema_html(s, depth + 1)}</li>" for s in schema[word])
            inner.append(f"<div>{label}:</div><ul>{items}</ul>")
    properties = schema.get("properties") or {}
    if properties:
        required = set(schema.get("required", []))
        rows = "".join(
            f"<li><code>{escape(key)}</code>{' <span class=req>required</span>' if key in required else ''}: "
            f"{schema_html(sub, depth + 1)}</li>"
            for key, sub in properties.items()
        )
        inner.append(f"<ul class=props>{rows}</ul>")
    extra = schema.get("additionalProperties")
    if extra is False:
        inner.append("<div class=note>no other keys</div>")
    elif isinstance(extra, dict):
        inner.append(f"<div>each other key: {schema_html(extra, depth + 1)}</div>")
    if "items" in schema:
        inner.append(f"<div>items: {schema_html(schema['items'], depth + 1)}</div>")
    return out + "".join(inner)


def repr_json(value: object) -> str:
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, str):
        return f'"{value}"'
    return str(value)


def _resolve(doc: dict, item: dict) -> dict:
    name = _ref_name(item)
    if name is None:
        return item
    section = item["$ref"].split("/")[-2]
    return doc["components"][section][name]


def _security(requirements: list[dict]) -> str:
    if not requirements:
        return "open to anyone"
    ways = []
    for requirement in requirements:
        if not requirement:
            ways.append("no credentials")
            continue
        for scheme, scopes in requirement.items():
            what = {"bearer": "Authorization: Bearer KEY", "session": "the vf_session cookie"}.get(scheme, scheme)
            ways.append(
                f"<code>{escape(what)}</code>" + (f" with <code>{escape(', '.join(scopes))}</code>" if scopes else "")
            )
    return " or ".join(ways)


def _anchor(method: str, path: str) -> str:
    return "op-" + method + "-" + re.sub(r"[^A-Za-z0-9]+", "-", path).strip("-")


def _content(content: dict) -> str:
    out = []
    for media, body in content.items():
        schema = body.get("schema")
        out.append(f"<div><code>{escape(media)}</code> {schema_html(schema) if schema else ''}</div>")
    return "".join(out)


def _operation(doc: dict, method: str, path: str, op: dict) -> str:
    html = [f'<section class=op id="{_anchor(method, path)}">']
    html.append(f"<h3><span class='method {method}'>{method.upper()}</span> <code>{escape(path)}</code></h3>")
    html.append(f"<p class=summary>{_text(op.get('summary', ''))}</p>")
    if op.get("description"):
        html.append(_paragraphs(op["description"]))
    html.append(
        f"<p class=access>Access: <strong>{escape(op.get('x-access', ''))}</strong> — {_security(op['security'])}</p>"
    )
    params = op.get("parameters", [])
    if params:
        html.append("<h4>Parameters</h4><table><tr><th>name</th><th>in</th><th>what</th></tr>")
        for p in params:
            req = " <span class=req>required</span>" if p.get("required") else ""
            html.append(
                f"<tr><td><code>{escape(p['name'])}</code>{req}</td><td>{escape(p['in'])}</td>"
                f"<td>{_text(p.get('description', ''))}<br>{schema_html(p.get('schema'))}</td></tr>"
            )
        html.append("</table>")
    body = op.get("requestBody")
    if body:
        need = "required" if body.get("required") else "optional"
        html.append(f"<h4>Body ({need})</h4>")
        if body.get("description"):
            html.append(f"<p>{_text(body['description'])}</p>")
        html.append(_content(body.get("content", {})))
    html.append("<h4>Responses</h4><table><tr><th>status</th><th>what</th></tr>")
    for status, response in op.get("responses", {}).items():
        response = _resolve(doc, response)
        headers = "".join(
            f"<div>header <code>{escape(h)}</code>{' (always)' if spec.get('required') else ''}</div>"
            for h, spec in response.get("headers", {}).items()
        )
        html.append(
            f"<tr><td class=status>{escape(status)}</td><td>{_text(response.get('description', ''))}{headers}"
            f"{_content(response.get('content', {}))}</td></tr>"
        )
    html.append("</table></section>")
    return "".join(html)


def render(doc: dict) -> str:
    """The whole page for ``doc``."""
    info = doc["info"]
    by_tag: dict[str, list[tuple[str, str, dict]]] = {t["name"]: [] for t in doc.get("tags", [])}
    for path, item in doc["paths"].items():
        for method, op in item.items():
            for tag in op.get("tags", ["other"]):
                by_tag.setdefault(tag, []).append((method, path, op))
    tag_words = {t["name"]: t.get("description", "") for t in doc.get("tags", [])}
    toc, sections = [], []
    for tag, ops in by_tag.items():
        if not ops:
            continue
        links = "".join(
            f"<li><a href='#{_anchor(m, p)}'><span class='method {m}'>{m.upper()}</span> {escape(p)}</a></li>"
            for m, p, _ in ops
        )
        toc.append(f"<li><a href='#tag-{escape(tag, quote=True)}'>{escape(tag)}</a><ul>{links}</ul></li>")
        sections.append(
            f"<section id='tag-{escape(tag, quote=True)}'><h2>{escape(tag)}</h2><p>{_text(tag_words.get(tag, ''))}</p>"
            + "".join(_operation(doc, m, p, op) for m, p, op in ops)
            + "</section>"
        )
    schemes = "".join(
        f"<li><code>{escape(name)}</code>: {escape(s.get('type', ''))}"
        f"{' ' + escape(s['scheme']) if 'scheme' in s else ''}"
        f"{' cookie ' + escape(s['name']) if s.get('in') == 'cookie' else ''} — {_text(s.get('description', ''))}</li>"
        for name, s in doc["components"].get("securitySchemes", {}).items()
    )
    schemas = "".join(
        f"<section class=schema id='schema-{escape(name, quote=True)}'><h3>{escape(name)}</h3>"
        f"{schema_html(schema)}</section>"
        for name, schema in doc["components"].get("schemas", {}).items()
    )
    return (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        "<meta name=viewport content='width=device-width, initial-scale=1'>"
        f"<title>{escape(info['title'])} API</title><link rel=stylesheet href='/ui/docs.css'>"
        "<link rel=icon href='data:,'></head><body>"
        f"<header><h1>{escape(info['title'])} API <small>{escape(info['version'])}</small></h1>"
        f"<p>OpenAPI {escape(doc['openapi'])}: <a href='/openapi.json'>/openapi.json</a> · "
        "<a href='/'>the web interface</a></p></header><main>"
        f"<section class=intro>{_paragraphs(info.get('description', ''))}"
        f"<h2>Credentials</h2><ul>{schemes}</ul></section>"
        f"<nav aria-label=Routes><h2>Routes</h2><ul class=toc>{''.join(toc)}</ul></nav>"
        + "".join(sections)
        + f"<section id=schemas><h2>Schemas</h2>{schemas}</section></main></body></html>"
    )


@cache
def page(policy: str) -> str:
    return render(document(policy))


async def docs(request: web.Request) -> web.Response:
    """GET /docs: the contract, readable, offline."""
    return web.Response(
        text=page(policy_of(request)),
        content_type="text/html",
        headers={"Content-Security-Policy": CSP, "Cache-Control": "no-cache"},
    )

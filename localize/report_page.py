"""A self-contained HTML page per analysed input (``report.html``) and one per folder run
(``summary.html``): what an analyst opens from a results folder without a server.

Why: the viewer needs ``localize serve``; a journalist who ran ``localize analyze`` on a laptop
gets a folder of files. The page says what the viewer says (verdict, whether the frames settle
it, the operating point and its false-positive bound, what the heatmap means, the warnings,
where the file came from) next to the overlay video, timeline and contact sheet, by relative
links only, so the folder can be zipped and sent. It reads the report dict only: no numbers are
computed here.
"""
from __future__ import annotations

import html
from typing import Any

_CSS = """body{font:15px system-ui,sans-serif;margin:1.5em auto;max-width:1100px;padding:0 1em;color:#222}
h1{font-size:20px;margin:0 0 .3em}.muted{color:#666}.small{font-size:13px}
.verdict{display:inline-block;font-size:28px;font-weight:700;padding:6px 16px;border:3px solid;border-radius:8px}
.fake{color:#b00020}.real{color:#1b6e20}.other{color:#555}.marginal{border-style:dashed}
.warn{color:#8a4b00}ul{padding-left:1.2em}table{border-collapse:collapse}td,th{padding:3px 10px;
border-bottom:1px solid #ddd;text-align:left}img,video{max-width:100%;border:1px solid #ccc}
.grid{display:grid;grid-template-columns:1fr 1fr;gap:16px}@media(max-width:800px){.grid{grid-template-columns:1fr}}"""

_VERDICT = {"fake": "FAKE", "real": "REAL", "no_face": "NO FACE", "uncalibrated": "NO DECISION"}


def _e(v: Any) -> str:
    return html.escape(str(v))


def _pct(v: float | None) -> str:
    return "—" if v is None else f"{100 * float(v):.1f} %"


def _num(v: float | None, digits: int = 3) -> str:
    return "—" if v is None else f"{float(v):.{digits}f}"


def _page(title: str, body: str) -> str:
    return (f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{_e(title)}</title>'
            f'<meta name="viewport" content="width=device-width,initial-scale=1"><style>{_CSS}</style></head>'
            f"<body>{body}<p class='muted small'>A model's output is evidence to weigh, not a verdict on its own: "
            "check the heatmap against the footage. Made by <code>localize analyze</code>.</p></body></html>")


def render_report(r: dict[str, Any]) -> str:
    """``report.html`` of one analysis (``r``: the ``report.json`` dict)."""
    inp, v, model = r.get("input", {}), r.get("video", {}), r.get("model", {})
    op = v.get("operating_point") or {}
    st = v.get("stability") or {}
    decision = str(v.get("decision") or "")
    cls = decision if decision in ("fake", "real") else "other"
    marginal = bool(st.get("marginal"))
    parts = [f"<h1>{_e(inp.get('name', ''))}</h1>",
             f"<p><span class='verdict {cls}{' marginal' if marginal else ''}'>"
             f"{_e(_VERDICT.get(decision, decision.upper()))}</span></p>"]
    facts = [f"Probability fake: <b>{_pct(v.get('probability'))}</b>", f"video score <b>{_num(v.get('score'), 4)}</b>"]
    if st.get("score_interval"):
        lo, hi = st["score_interval"]
        facts.append(f"{_pct(st.get('interval_level'))} interval over frame resamplings {_num(lo, 4)}–{_num(hi, 4)}")
    parts.append("<p>" + " · ".join(facts) + "</p>")
    if marginal:
        parts.append("<p class='fake'><b>Marginal decision:</b> other frames of this video could give the other "
                     "decision. Do not act on it alone; analyse more frames.</p>")
    elif st:
        parts.append(f"<p class='small'>Firm: {_pct(st.get('decision_agreement'))} of frame resamplings agree.</p>")
    if v.get("grayscale"):
        parts.append("<p class='fake'><b>Grayscale footage:</b> no model here was trained or calibrated on "
                     "black-and-white or infrared footage, where real faces score higher. This verdict is not "
                     "validated; find a colour copy.</p>")
    if op:
        bits = [f"for {op['applies_to']}" if op.get("applies_to") else "", f"threshold {_num(op.get('threshold'), 4)}",
                f"called fake above probability {_pct(op.get('threshold_probability'))}",
                f"target FPR {_pct(op.get('target_fpr'))}", f"validation FPR {_pct(op.get('val_fpr'))}",
                f"TPR {_pct(op.get('val_tpr'))}"]
        parts.append("<p class='small'>Operating point: " + " · ".join(_e(b) for b in bits if b) + "</p>")
        if op.get("note") and op["note"] not in (r.get("warnings") or []):
            parts.append(f"<p class='small muted'>{_e(op['note'])}</p>")
    ident = r.get("identity")
    if ident:
        parts.append(_identity(ident))
    target = model.get("target")
    parts.append("<p class='small'>" + ("Heatmap: probability that a pixel lies on a blending boundary (Face X-ray); "
                                        "the outline encloses the suspected pasted face." if target == "xray" else
                                        "Heatmap: forged-pixel probability; the outline is the region at or above "
                                        "the pixel threshold.") + "</p>")
    warns = r.get("warnings") or []
    if warns:
        parts.append("<ul class='warn small'>" + "".join(f"<li>{_e(w)}</li>" for w in warns) + "</ul>")
    files = r.get("files") or {}
    media = []
    if files.get("overlay"):
        media.append(f"<div><h2 class='small'>Overlay</h2><video src='{_e(files['overlay'])}' controls muted "
                     "playsinline></video></div>")
    if files.get("timeline"):
        media.append(f"<div><h2 class='small'>Timeline</h2><img src='{_e(files['timeline'])}' alt='per-frame score'>"
                     "</div>")
    if files.get("contact_sheet"):
        media.append(f"<div><h2 class='small'>Most suspicious frames</h2><img src='{_e(files['contact_sheet'])}' "
                     "alt='contact sheet'></div>")
    if media:
        parts.append("<div class='grid'>" + "".join(media) + "</div>")
    tracks = r.get("tracks") or []
    if tracks:
        def verdict(t: dict) -> str:
            said = {True: "fake", False: "real"}.get(t.get("fake"), "—")
            return said + ("" if t.get("used_in_decision", True) else " (too short to decide)")

        def face(t: dict) -> str:
            px = t.get("face_px")
            return ("main, " if t.get("main") else "") + (f"{px:.0f} px" if isinstance(px, (int, float)) else "—")

        rows = "".join(f"<tr><td>{_e(t.get('track_id'))}</td><td>{_e(face(t))}</td><td>{_e(t.get('n_frames'))}</td>"
                       f"<td>{_num(t.get('score'), 4)}</td><td>{_e(verdict(t))}</td></tr>" for t in tracks)
        parts.append(f"<h2 class='small'>Faces</h2><table class='small'><tr><th>track</th><th>face</th><th>frames</th>"
                     f"<th>score</th><th>verdict</th></tr>{rows}</table>")
    det = (r.get("options") or {}).get("detection") or {}
    if det.get("missed"):
        parts.append(f"<p class='small muted'>Faces were detected at {_e(det.get('side'))} px (long side), not "
                     f"{_e(r['options'].get('detect_side'))} px: {_e(det.get('reason', ''))}.</p>")
    meta = inp.get("metadata") or {}
    tags = {**(meta.get("tags") or {}), **(meta.get("stream_tags") or {})}
    enc = tags.get("encoder") or tags.get("ENCODER") or ""
    about = [f"{inp.get('width')}x{inp.get('height')}", f"{inp.get('frames_analyzed')} of {inp.get('n_frames')} "
             f"frames analysed ({inp.get('frames_with_face')} with a face)", str(inp.get("codec", ""))]
    if enc:
        ffmpeg = enc.startswith(("Lavf", "Lavc"))
        about.append(f"written by {enc}" + (" (FFmpeg: not a camera original)" if ffmpeg else ""))
    exif = meta.get("exif") or {}
    if exif:
        about.append("EXIF " + ", ".join(f"{k} {v}" for k, v in exif.items()))
    if inp.get("rotation"):
        about.append(f"display rotation {inp['rotation']}°")
    if inp.get("mirrored"):
        about.append("display mirrored (shown as a player shows it)")
    if inp.get("hdr"):
        about.append(f"HDR video, {inp['hdr']}: tone-mapped to SDR as a player shows it")
    parts.append("<p class='small muted'>File: " + _e(" · ".join(a for a in about if a)) +
                 f" · sha256 {_e(str(inp.get('sha256', ''))[:16])}…</p>")
    parts.append(f"<p class='small muted'>Model {_e(model.get('id', '?'))} ({_e(model.get('backend', ''))}) · "
                 f"<a href='{_e(files.get('report', 'report.json'))}'>report.json</a> · {_e(r.get('created_utc', ''))}"
                 "</p>")
    return _page(f"{inp.get('name', '')}: {decision}", "".join(parts))


def _identity(d: dict[str, Any]) -> str:
    """The identity scorer's verdict (``report.identity``), beside the localizer's, never merged;
    ``disagreement`` (set by the analysis) when the two differ."""
    who = _e(d.get("person", "?"))
    said = d.get("decision")
    if said not in ("fake", "real"):
        why = d.get("note") or d.get("error") or d.get("status", "")
        return f"<p><b>Identity check against {who}:</b> no verdict ({_e(why)}).</p>"
    prof = d.get("profile") or {}
    p = d.get("fake_probability") or {}
    fams = " · ".join(f"{_e(k)} {_pct(p.get(k))}" for k in ("appearance", "behaviour", "stability")
                      if p.get(k) is not None)
    text = ("does not match the person's references (identity-replaced or impersonated?)" if said == "fake"
            else "consistent with the person's references")
    out = (f"<p><b>Identity check against {who}:</b> <span class='{said}'><b>{_e(said.upper())}</b></span>, {text}. "
           f"Probability fake {_pct(p.get('fused'))} (called fake at {_pct(d.get('threshold'))} or more)"
           + (f"; {fams}" if fams else "") + ". "
           f"<span class='small muted'>Zero-shot identity scorer, profile of {_e(prof.get('reference_videos', '?'))} "
           f"reference video(s) and {_e(prof.get('reference_photos', 0))} photo(s) enrolled "
           f"{_e(prof.get('created', ''))}.</span></p>")
    if d.get("disagreement"):
        out += f"<p class='warn small'>{_e(d['disagreement'])}</p>"
    return out


def render_summary(rows: list[dict[str, Any]]) -> str:
    """``summary.html`` of a folder run: one line per input (the ``summary.csv`` rows), linking
    each input's ``report.html``."""
    body = []
    people = list(dict.fromkeys(r["identity_person"] for r in rows if r.get("identity_person")))
    # one person for every input (--person) names it in the header; otherwise (--people) each row does
    named = len(people) > 1 or any(not r["identity_person"] for r in rows if "identity_person" in r)
    for r in rows:
        d = str(r.get("decision") or "")
        cls = d if d in ("fake", "real") else "other"
        link = (f"<a href='{_e(r['folder'])}/report.html'>{_e(r['name'])}</a>" if r.get("status") != "error"
                else _e(r.get("name", "")))
        verdict = _e(_VERDICT.get(d, d.upper())) if d else f"error: {_e(r.get('error', ''))}"
        marg = " <b class='fake'>marginal</b>" if str(r.get("marginal")) == "true" else ""
        marg += " <b class='fake'>grayscale: not validated</b>" if str(r.get("grayscale")) == "true" else ""
        ident = ""
        if "identity_person" in r:
            i = str(r.get("identity_decision") or "")
            who = f"{_e(r['identity_person'])}: " if named and r["identity_person"] else ""
            ident = (f"<td class='{i if i in ('fake', 'real') else 'other'}'>{who}{_e(i.replace('_', ' '))}</td>"
                     f"<td>{_e(r.get('identity_probability', ''))}</td>")
        body.append(f"<tr><td>{link}</td><td class='{cls}'>{verdict}{marg}</td><td>{_e(r.get('probability', ''))}</td>"
                    f"<td>{_e(r.get('threshold_probability', ''))}</td><td>{_e(r.get('score', ''))}</td>"
                    f"<td>{_e(r.get('frames_with_face', ''))}</td>{ident}</tr>")
    head = ""
    if people and not named:
        head = f"<th>identity check against {_e(people[0])}</th><th>its probability</th>"
    elif people:
        head = "<th>identity check against the person claimed</th><th>its probability</th>"
    table = ("<table><tr><th>input</th><th>decision</th><th>probability</th><th>called fake above probability</th>"
             "<th>score</th><th>frames with a face</th>" + head
             + f"</tr>{''.join(body)}</table>")
    return _page("localize analyze: summary", f"<h1>{len(rows)} inputs</h1>{table}")

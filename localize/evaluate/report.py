"""report.md + report.html (tables, ROC curves, AUC vs references, AUC vs
degradation) + results.json, and the four written answers derived from the numbers.

The answers are generated from the measured metrics with the sample sizes next to
them: with a few dozen videos a 0.05 AUC difference is inside the bootstrap
interval, and the text says so instead of ranking noise.
"""
from __future__ import annotations

import base64
import html
import io
from pathlib import Path

import numpy as np

from ..fileio import write_json, write_text
from .metrics import roc_curve

PLOTS = ("roc.png", "auc_vs_references.png", "auc_vs_degradation.png")


def _f(v, nd=3) -> str:
    if v is None or (isinstance(v, float) and not np.isfinite(v)):
        return "-"
    return f"{v:.{nd}f}"


def _ci(m) -> str:
    lo, hi = m.get("auc_ci", (None, None))
    return f"{_f(m['auc'])} [{_f(lo, 2)}, {_f(hi, 2)}]"


def _get(metrics, det, deg, kind):
    for m in metrics:
        if m["detector"] == det and m["degradation"] == deg and m["kind"] == kind:
            return m
    return None


def _table(header: list[str], rows: list[list[str]]) -> str:
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(out)


# ---------------------------------------------------------------- plots

def _plots(results: dict, out: Path) -> dict[str, bytes]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = results["rows"]
    dets = sorted({r["detector"] for r in rows})
    pngs = {}
    kinds = [k for k in ("identity-replaced", "identity-remained")
             if any(r["kind"] == k and r["degradation"] == "none" for r in rows)]
    fig, axes = plt.subplots(1, max(1, len(kinds)), figsize=(5.5 * max(1, len(kinds)), 4.6), squeeze=False)
    for ax, kind in zip(axes[0], kinds or ["all"]):
        for det in dets:
            sel = [r for r in rows if r["detector"] == det and r["degradation"] == "none"
                   and (r["label"] == 0 or r["kind"] == kind) and r["score"] is not None]
            y = [r["label"] for r in sel]
            if len(set(y)) < 2:
                continue
            fpr, tpr, _ = roc_curve(y, [r["score"] for r in sel])
            m = _get(results["metrics"], det, "none", kind)
            ax.plot(fpr, tpr, label=f"{det} (AUC {_f(m['auc'], 2) if m else '-'})", drawstyle="steps-post")
        ax.plot([0, 1], [0, 1], ":", color="grey")
        ax.set(xlabel="false-positive rate", ylabel="true-positive rate", title=f"ROC: {kind} vs real")
        ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    pngs["roc.png"] = _png(fig)

    curve = [c for c in results.get("references_curve", []) if c.get("identities")]
    fig, ax = plt.subplots(figsize=(5.5, 4.2))
    for key, style in (("all:fused", "-o"), ("all:appearance", "--s"), ("all:behaviour", ":^"),
                       ("all:stability", "-x"), ("identity-remained:fused", "-.d")):
        xs = [c["n_references"] for c in curve if key in c]
        ys = [c[key]["auc"] for c in curve if key in c]
        if xs:
            ax.plot(xs, ys, style, label=key)
    ax.set(xlabel="reference videos", ylabel="video AUC", title="identity scorer: AUC vs references", ylim=(0, 1.02))
    ax.legend(fontsize=7)
    fig.tight_layout()
    pngs["auc_vs_references.png"] = _png(fig)

    degs = results["degradations"]
    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    MD = results.get("metrics_degradation") or results["metrics"]
    for det in dets:
        ys = [(_get(MD, det, d, "all") or {}).get("auc") for d in degs]
        ax.plot(range(len(degs)), [np.nan if v is None else v for v in ys], "-o", label=det)
    ax.set_xticks(range(len(degs)), degs)
    ax.set(ylabel="video AUC (all fakes)", title="AUC vs degradation", ylim=(0, 1.02))
    ax.legend(fontsize=7)
    fig.tight_layout()
    pngs["auc_vs_degradation.png"] = _png(fig)
    for name, data in pngs.items():
        from ..fileio import atomic_path

        with atomic_path(out / name) as tmp:
            tmp.write_bytes(data)
    return pngs


def _png(fig) -> bytes:
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    plt.close(fig)
    return buf.getvalue()


# ---------------------------------------------------------------- answers

def answers(results: dict) -> dict[str, str]:
    """(a)-(d) from the numbers; cautious where the intervals overlap."""
    M = results["metrics"]
    out = {}

    def auc(det, kind, deg="none"):
        m = _get(M, det, deg, kind)
        return (m["auc"], m["auc_ci"], m["n_fake"], m["n_real"]) if m else None

    parts = []
    for det in ("identity:fused", "identity:appearance", "identity:behaviour", "identity:stability", "mask",
                "mesonet"):
        a, b = auc(det, "identity-replaced"), auc(det, "identity-remained")
        if a and b:
            parts.append(f"{det}: replaced AUC {_f(a[0])} (n={a[2]} fakes) vs remained {_f(b[0])} (n={b[2]}), "
                         f"difference {_f(a[0] - b[0], 2)}")
    fused_a, fused_b = auc("identity:fused", "identity-replaced"), auc("identity:fused", "identity-remained")
    verdict = ""
    if fused_a and fused_b:
        overlap = fused_a[1][0] <= fused_b[1][1]
        verdict = (" The identity-remained fakes are clearly harder for the identity scorer (the bootstrap "
                   "intervals do not overlap)." if not overlap and fused_a[0] > fused_b[0] else
                   " The intervals overlap, so the difference is not established on this data.")
    out["a"] = ("How much harder identity-remained is: " + "; ".join(parts) + "." + verdict +
                " Appearance alone barely sees an identity-remained fake (the face is the person's own), so "
                "it rests on behaviour and on identity stability (the re-rendered face's descriptor flickers)."
                if parts else "Not measurable: a kind of fake is missing.")

    MD = results.get("metrics_degradation") or M
    beh = auc("identity:behaviour", "all")
    beh_deg = {d: (_get(MD, "identity:behaviour", d, "all") or {}).get("auc") for d in results["degradations"]}
    fpr = (results.get("fpr_on_reals") or {}).get("identity:behaviour", {})
    out["b"] = ("Behavioural features: AUC " + (f"{_f(beh[0])} [{_f(beh[1][0], 2)}, {_f(beh[1][1], 2)}]" if beh else "-")
                + " on all fakes at full quality; across degradations " +
                ", ".join(f"{d} {_f(v, 2)}" for d, v in beh_deg.items()) +
                f". False-positive rate on held-out real clips at p>=0.5: {_f(fpr.get('fpr'), 2)} "
                f"(n={fpr.get('n_real', 0)}). Landmark signals survive compression and blur better than pixel "
                "statistics (the dlib landmarks are fitted on a blurred HOG/regression input anyway), but with "
                "references of a few seconds from one session the person's behaviour model is narrow: held-out "
                "clips of the same person often fall outside it, which shows up as real videos scored fake.")
    stab = auc("identity:stability", "identity-remained")
    if stab:
        out["b"] += (f" Identity stability (descriptor flicker against the person's references, a temporal "
                     f"appearance cue rather than a behavioural one) reaches AUC {_f(stab[0])} "
                     f"[{_f(stab[1][0], 2)}, {_f(stab[1][1], 2)}] on identity-remained fakes.")
    rob = []
    for det in sorted({m["detector"] for m in MD}):
        base = (_get(MD, det, "none", "all") or {}).get("auc")
        worst = [(d, (_get(MD, det, d, "all") or {}).get("auc")) for d in results["degradations"] if d != "none"]
        worst = [(d, v) for d, v in worst if v is not None and np.isfinite(v)]
        if base is not None and worst:
            d, v = min(worst, key=lambda x: x[1])
            c40 = (_get(MD, det, "crf40", "all") or {}).get("auc")
            rob.append(f"{det}: {_f(base, 2)} at full quality, {_f(c40, 2)} at CRF 40, worst {_f(v, 2)} ({d})")
    out["c"] = ("Robustness (AUC, all fakes): " + "; ".join(rob) + ". Identity features look at who the face is "
                "and how it moves, not at pixel traces, so they should degrade least; the pixel-trace detectors "
                "(MesoNet, the localizer) lose the high-frequency evidence first under CRF 40 and blur.") if rob \
        else "Robustness: no degraded variants were evaluated."
    curve = [c for c in results.get("references_curve", []) if c.get("identities")]
    if curve:
        txt = "; ".join(f"{c['n_references']} reference video(s) ({c['n_identities']} identities): fused AUC "
                        f"{_f((c.get('all:fused') or {}).get('auc'), 2)}, FPR {_f((c.get('all:fused') or {}).get('fpr'), 2)}"
                        for c in curve)
        goal = [c["n_references"] for c in curve if (c.get("all:fused") or {}).get("auc", 0) >= 0.95
                and ((c.get("all:fused") or {}).get("fpr") or 0) <= 0.05]
        out["d"] = ("Minimum number of reference videos: " + txt + ". " +
                    (f"The goal (AUC >= 0.95 and FPR <= 5 %) is first met with {min(goal)} reference video(s) "
                     "on the identities that have that many." if goal else
                     "The AUC/FPR goal is not met at any tested number of references on this data.") +
                    " Only identities with at least k reference videos enter the k-th point, so the points use "
                    "different (shrinking) sets of people.")
    else:
        out["d"] = "Minimum number of reference videos: no identity has several reference videos in this plan."
    return out


# ---------------------------------------------------------------- writer

def write_report(results: dict, out: Path) -> tuple[Path, Path, Path]:
    out.mkdir(parents=True, exist_ok=True)
    pngs = _plots(results, out)
    results["answers"] = answers(results)
    M = results["metrics"]
    degs = results["degradations"]
    dets = sorted({m["detector"] for m in M})
    md = [f"# Evaluation: {results['name']}", "",
          f"Created {results['created_utc']}; {results['counts']['cases']} test videos "
          f"({results['counts']['reals']} real, fakes: " +
          ", ".join(f"{k} {v}" for k, v in results["counts"]["fakes"].items()) +
          f"), {results['counts']['identities']} enrolled identities; total {results['timings_s']['total']} s.", ""]
    if results.get("detector_problems"):
        md += ["**Detectors not run:** " + "; ".join(f"{k}: {v}" for k, v in results["detector_problems"].items()), ""]
    md += ["## Main table (full quality)", "",
           "AUC with 95 % stratified bootstrap interval; accuracy/TPR/FPR at each detector's stated operating "
           "point (identity: fused p >= 0.5; mask: the analyze decision; MesoNet: its validation threshold).", ""]
    rows = []
    for det in dets:
        for kind in ("all", "identity-replaced", "identity-remained"):
            m = _get(M, det, "none", kind)
            if m:
                rows.append([det, kind, str(m["n_real"]), str(m["n_fake"]), str(m["n_unscored"]), _ci(m),
                             _f(m["log_loss"]), _f(m["accuracy"]), _f(m["tpr"]), _f(m["fpr"]),
                             _f(m["tpr_at_1fpr"]), _f(m["tpr_at_5fpr"])])
    md += [_table(["detector", "fakes", "reals n", "fakes n", "unscored", "AUC [95% CI]", "log loss", "acc",
                   "TPR", "FPR", "TPR@1%FPR", "TPR@5%FPR"], rows), ""]
    MD = results.get("metrics_degradation") or M
    n_sub = (_get(MD, dets[0], "none", "all") or {}) if dets else {}
    md += ["## AUC by degradation (all fakes)", "",
           f"Same videos in every column ({n_sub.get('n_real', '-')} real, {n_sub.get('n_fake', '-')} fake); "
           "in brackets: FPR at the stated operating point.", ""]

    def cell(det, d, kind):
        m = _get(MD, det, d, kind) or {}
        return f"{_f(m.get('auc'))} ({_f(m.get('fpr'), 2)})" if m else "-"

    md += [_table(["detector", *degs], [[det, *[cell(det, d, "all") for d in degs]] for det in dets]), ""]
    for kind in ("identity-replaced", "identity-remained"):
        md += [f"### {kind}", ""]
        md += [_table(["detector", *degs], [[det, *[cell(det, d, kind) for d in degs]] for det in dets]), ""]
    fp = results.get("fpr_on_reals", {})
    md += ["## False positives on real videos (full quality)", ""]
    md += [_table(["detector", "FPR", "real videos", "threshold", "false positives"],
                  [[d, _f(v["fpr"]), str(v["n_real"]), _f(v["threshold"]), ", ".join(v["false_positives"]) or "-"]
                   for d, v in fp.items()]), ""]
    unseen = results.get("metrics_unseen_by_trained_detectors") or []
    if unseen:
        md += ["## Videos the trained detectors never saw", "",
               "The localizer and MesoNet were trained on crops of people/ and reals/ videos; this table keeps "
               "only test videos whose source was not in their training data (FF++, GHOST, held-out reals).", ""]
        md += [_table(["detector", "fakes", "reals n", "fakes n", "AUC [95% CI]", "FPR"],
                      [[m["detector"], m["kind"], str(m["n_real"]), str(m["n_fake"]), _ci(m), _f(m["fpr"])]
                       for m in unseen if m["degradation"] == "none"]), ""]
    curve = results.get("references_curve") or []
    if curve:
        md += ["## Identity scorer: AUC vs number of reference videos", ""]
        crow = []
        for c in curve:
            if not c.get("identities"):
                crow.append([str(c["n_references"]), str(c["n_identities"]), "-", "-", "-", "-", "-"])
                continue
            g = lambda k: c.get(k) or {}  # noqa: E731
            crow.append([str(c["n_references"]), str(c["n_identities"]), _ci(g("all:fused")) if g("all:fused") else "-",
                         _f(g("all:appearance").get("auc")), _f(g("all:behaviour").get("auc")),
                         _f(g("all:stability").get("auc")), _f(g("all:fused").get("fpr"))])
        md += [_table(["reference videos", "identities", "fused AUC [CI]", "appearance AUC", "behaviour AUC",
                       "stability AUC", "fused FPR"], crow), ""]
    pix = results.get("pixel") or {}
    if pix:
        md += ["## Localizer pixel scores (forge fakes with exact masks, inside face crops)", ""]
        md += [_table(["method", "videos", "frames", "IoU", "F1"],
                      [[k, str(v["videos"]), str(v["frames"]), _f(v["iou"]), _f(v["f1"])] for k, v in pix.items()]), ""]
    md += ["## Answers", ""]
    for k, v in results["answers"].items():
        md += [f"**({k})** {v}", ""]
    if results["plan"].get("notes"):
        md += ["## Protocol notes", ""] + [f"- {n}" for n in results["plan"]["notes"]] + [""]
    md += ["## Plots", ""] + [f"![{p}]({p})" for p in pngs] + [""]
    md_text = "\n".join(md)
    write_text(out / "report.md", md_text)
    write_text(out / "report.html", _html(md_text, pngs, results["name"]))
    write_json(out / "results.json", results)
    return out / "report.md", out / "report.html", out / "results.json"


def _html(md_text: str, pngs: dict[str, bytes], title: str) -> str:
    """A self-contained HTML rendering of the markdown (tables, headings, images inline)."""
    body = []
    lines = md_text.splitlines()
    i = 0
    while i < len(lines):
        ln = lines[i]
        if ln.startswith("|"):
            tbl = []
            while i < len(lines) and lines[i].startswith("|"):
                tbl.append([c.strip() for c in lines[i].strip("|").split("|")])
                i += 1
            head, rows = tbl[0], tbl[2:]
            body.append("<table><tr>" + "".join(f"<th>{html.escape(c)}</th>" for c in head) + "</tr>" +
                        "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in r) + "</tr>" for r in rows)
                        + "</table>")
            continue
        if ln.startswith("!["):
            name = ln[ln.index("(") + 1:-1]
            data = base64.b64encode(pngs.get(name, b"")).decode()
            body.append(f'<p><img alt="{html.escape(name)}" src="data:image/png;base64,{data}"></p>')
        elif ln.startswith("### "):
            body.append(f"<h3>{html.escape(ln[4:])}</h3>")
        elif ln.startswith("## "):
            body.append(f"<h2>{html.escape(ln[3:])}</h2>")
        elif ln.startswith("# "):
            body.append(f"<h1>{html.escape(ln[2:])}</h1>")
        elif ln.startswith("- "):
            body.append(f"<li>{html.escape(ln[2:])}</li>")
        elif ln.strip():
            t = html.escape(ln)
            while "**" in t:
                t = t.replace("**", "<b>", 1).replace("**", "</b>", 1)
            body.append(f"<p>{t}</p>")
        i += 1
    css = ("body{font-family:sans-serif;max-width:1100px;margin:2em auto;line-height:1.4}"
           "table{border-collapse:collapse;margin:1em 0;font-size:0.85em}td,th{border:1px solid #bbb;"
           "padding:3px 6px;text-align:right}th{background:#eee}img{max-width:100%}")
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
            f"<style>{css}</style></head><body>{''.join(body)}</body></html>\n")

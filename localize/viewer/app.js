// localize viewer: upload, follow the job, then study the result.
// No framework, no CDN: everything it needs is served by `localize serve`.
"use strict";

const $ = (id) => document.getElementById(id);
const state = { token: sessionStorage.getItem("localize-token") || "", job: null, report: null,
                fps: 25, nFrames: 1, frames: [], threshold: null, file: null, objectUrls: [],
                ovFps: 25, ovIdx: [], stepped: false, lastSrc: -1 };

// ---------- HTTP ------------------------------------------------------------------
function authHeaders() { return state.token ? { Authorization: "Bearer " + state.token } : {}; }

async function api(path, opts = {}) {
  const res = await fetch(path, { ...opts, headers: { ...(opts.headers || {}), ...authHeaders() } });
  if (res.status === 401) { $("auth").hidden = false; throw new Error("this server needs an access token"); }
  return res;
}

async function errorText(res) {
  try { const j = await res.json(); return typeof j.detail === "string" ? j.detail : JSON.stringify(j.detail); }
  catch (e) { return res.status + " " + res.statusText; }
}

// A media URL the browser can load: direct (range requests, seeking) when no token is
// needed, else fetched with the token and handed over as a blob.
async function mediaUrl(path) {
  if (!state.token) return path;
  const res = await api(path);
  if (!res.ok) throw new Error(await errorText(res));
  const url = URL.createObjectURL(await res.blob());
  state.objectUrls.push(url);
  return url;
}

// ---------- report accessors (one place that knows the report's layout) ---------------
const num = (v) => (typeof v === "number" && isFinite(v) ? v : null);
function pick(obj, ...names) { for (const n of names) if (obj && obj[n] !== undefined && obj[n] !== null) return obj[n]; return undefined; }
function videoPart(r) { return pick(r, "video") || r; }
function operatingPoint(r) {
  const v = videoPart(r);
  return pick(v, "operating_point") || pick(r, "operating_point") || pick(r, "calibration") || {};
}
function frameList(r) {
  const fr = pick(r, "frames", "per_frame") || [];
  return fr.map((f) => {
    const faces = pick(f, "faces") || [];
    let s = num(pick(f, "score", "area", "area_fraction", "mask_area", "mask_area_fraction"));
    if (s === null && faces.length) {
      const vals = faces.map((x) => num(pick(x, "score", "area", "area_fraction", "mask_area_fraction"))).filter((x) => x !== null);
      if (vals.length) s = Math.max(...vals);
    }
    return { index: pick(f, "index", "frame") ?? 0, time: num(pick(f, "time", "t")), score: s,
             maxProb: num(pick(f, "max_prob", "max_probability")), status: pick(f, "status") || (faces.length || s !== null ? "ok" : "no_face"),
             faces };
  });
}
function trackList(r) { return pick(r, "tracks") || []; }

// ---------- upload -------------------------------------------------------------------
function show(id, on = true) { $(id).hidden = !on; }
function fail(msg) { const e = $("error"); e.textContent = msg; show("error"); show("progress-panel", false); }

function setProgress(pct, label) {
  $("progress").value = pct; $("progress-pct").textContent = Math.round(pct) + "%";
  if (label) $("progress-label").textContent = label;
}

function upload(file) {
  state.file = file;
  show("error", false); show("result", false); show("progress-panel");
  setProgress(0, "Uploading " + file.name + "…");
  const form = new FormData();
  form.append("file", file, file.name);
  const mode = $("mode").value;
  if (mode) { const [k, v] = mode.split(":"); form.append(k, v); }
  const person = $("person").value;
  if (person) form.append("person", person);
  const xhr = new XMLHttpRequest();  // XHR, not fetch: upload progress events
  xhr.open("POST", "v1/analyze");
  if (state.token) xhr.setRequestHeader("Authorization", "Bearer " + state.token);
  xhr.upload.onprogress = (e) => { if (e.lengthComputable) setProgress(30 * e.loaded / e.total, "Uploading " + file.name + "…"); };
  xhr.onerror = () => fail("Upload failed: the server could not be reached.");
  xhr.onload = () => {
    let body = {};
    try { body = JSON.parse(xhr.responseText); } catch (e) { /* not JSON */ }
    if (xhr.status === 401) { $("auth").hidden = false; fail("This server needs an access token."); return; }
    if (xhr.status === 503) {
      const ra = xhr.getResponseHeader("Retry-After");
      fail("The server is busy (" + (body.detail || "queue full") + "). Try again in " + (ra || "a few") + " s.");
      return;
    }
    if (xhr.status !== 202) { fail("Refused (" + xhr.status + "): " + (body.detail || xhr.statusText)); return; }
    state.job = body.id;
    $("job-id").textContent = "job " + body.id;
    poll();
  };
  xhr.send(form);
}

async function poll() {
  let res;
  try { res = await api("v1/jobs/" + state.job); }
  catch (e) { fail(e.message); return; }
  if (!res.ok) { fail("Job lookup failed (" + res.status + "): " + (await errorText(res))); return; }
  const j = await res.json();
  if (j.state === "queued") setProgress(30, "Waiting in the queue…");
  else if (j.state === "running") setProgress(30 + 70 * (j.progress || 0), "Analysing: " + (j.stage || "running") + "…");
  if (j.state === "done") { setProgress(100, "Done"); await showResult(j); return; }
  if (j.state === "failed") { fail("The analysis failed: " + (j.error || "unknown error")); return; }
  setTimeout(poll, 500);
}

// ---------- result ------------------------------------------------------------------
function fmt(v, digits = 3) { return v === null || v === undefined ? "—" : Number(v).toFixed(digits); }
function pct(v) { return v === null || v === undefined ? "—" : (100 * v).toFixed(1) + "%"; }

async function showResult(job) {
  const r = job.report || {};
  state.report = r;
  const media = (job.input && job.input.media) || {};
  const rin = pick(r, "input") || {};
  state.fps = num(media.fps) || num(rin.fps) || 25;
  state.nFrames = num(media.n_frames) || num(rin.n_frames) || 1;
  // overlay.mp4 holds only the analysed frames: overlay frame k shows source frame ovIdx[k]
  const ovr = pick(r, "overlay") || {};
  state.ovIdx = (ovr.frame_indices || []).map(Number);
  if (!state.ovIdx.length) state.ovIdx = Array.from({ length: state.nFrames }, (_, i) => i);
  state.ovFps = num(ovr.fps) || state.fps;
  state.frames = frameList(r);
  // Frame times as the report gives them: the frames' own timestamps for variable-frame-rate
  // video, whose original cannot follow an overlay played at the average rate by time alone.
  state.vfr = pick(rin, "variable_frame_rate") === true;
  state.timeOf = new Map(state.frames.filter((f) => f.time !== null).map((f) => [Number(f.index), f.time]));
  state.stepped = state.ovIdx.length < state.nFrames || state.vfr;  // the original follows by seeking
  const v = videoPart(r);
  const op = operatingPoint(r);
  state.threshold = num(pick(op, "threshold")) ?? num(pick(v, "threshold"));

  const status = pick(v, "status") || "ok";
  const decision = status === "no_face" ? "no_face" : (pick(v, "decision", "label") || "—");
  const verdict = $("verdict");
  verdict.dataset.decision = String(decision).toLowerCase();
  verdict.textContent = { fake: "FAKE", real: "REAL", no_face: "NO FACE", uncalibrated: "NO DECISION" }[String(decision).toLowerCase()] || String(decision).toUpperCase();
  verdict.title = decision === "uncalibrated" ? "the model carries no calibration, so it cannot state a probability or a decision" : "";
  $("probability").textContent = status === "no_face" ? "— (no face found)"
    : (decision === "uncalibrated" ? "— (model not calibrated)" : pct(num(pick(v, "probability"))));
  $("score").textContent = fmt(num(pick(v, "score")));
  // How firmly the frames decide: the score's interval over resamplings of the analysed frames
  // (report.video.stability, decision.decision_stability); a marginal decision is flagged.
  const stab = pick(v, "stability") || {};
  const iv = Array.isArray(stab.score_interval) ? stab.score_interval.map(Number) : null;
  const marginal = stab.marginal === true;
  verdict.dataset.marginal = marginal ? "true" : "false";
  $("stability").dataset.marginal = marginal ? "true" : "false";
  $("stability").textContent = !iv ? "" : (marginal
    ? "Marginal: other frames of this video could give the other decision (score " + fmt(iv[0]) + "–" + fmt(iv[1]) +
      " over frame resamplings, threshold " + fmt(state.threshold) + "). Do not act on this decision alone."
    : "Firm: " + pct(num(stab.decision_agreement)) + " of frame resamplings agree (score " + fmt(iv[0]) + "–" +
      fmt(iv[1]) + ")");
  const opBits = [];
  const applies = pick(op, "applies_to"); if (applies) opBits.push("for " + applies);
  if (state.threshold !== null) opBits.push("threshold " + fmt(state.threshold));
  // The decision is set for a false-positive rate, the probability by a calibration curve: say
  // where they meet, so "probability 58 %" next to REAL does not read as a contradiction.
  const tprob = num(pick(op, "threshold_probability"));
  if (tprob !== null) opBits.push("called fake above probability " + pct(tprob));
  const tfpr = num(pick(op, "target_fpr")); if (tfpr !== null) opBits.push("target FPR " + pct(tfpr));
  const vfpr = num(pick(op, "val_fpr", "fpr")); if (vfpr !== null) opBits.push("validation FPR " + pct(vfpr));
  const vtpr = num(pick(op, "val_tpr", "tpr")); if (vtpr !== null) opBits.push("TPR " + pct(vtpr));
  if (pick(op, "small_sample")) opBits.push("small validation set");
  $("operating-point").textContent = opBits.length ? "Operating point: " + opBits.join(" · ") : "";
  const warnList = $("warnings");
  warnList.replaceChildren(...(Array.isArray(r.warnings) ? r.warnings : []).map((w) => {
    const li = document.createElement("li");
    li.textContent = "⚠ " + w;
    return li;
  }));
  const model = pick(r, "model") || {};
  state.lastSrc = -1;
  // A detection survey that found faces the usual scale misses (group footage) raised the scale
  // for this input (report.options.detection): say so, since it explains extra, smaller faces.
  const det = pick(pick(r, "options") || {}, "detection") || {};
  const rescaled = Array.isArray(det.missed) && det.missed.length
    ? " · faces detected at " + det.side + " px: " + (det.reason || "a survey found small faces") : "";
  $("model-line").textContent = "Model " + (pick(model, "id", "model_id") || pick(r, "model_id") || "?") +
    " · " + state.frames.length + " frames analysed of " + state.nFrames + rescaled;
  // What the file says about its origin (report.input.metadata): an FFmpeg encoder tag means the
  // file was re-encoded, not a camera original; tags are easy to edit, so this is context only.
  const meta = pick(rin, "metadata") || {};
  const tags = Object.assign({}, meta.tags || {}, meta.stream_tags || {});
  const enc = tags.encoder || tags.ENCODER || "";
  const exif = meta.exif || {};
  const bits = [];
  if (meta.format) bits.push(String(meta.format).split(",")[0]);
  if (meta.profile) bits.push(meta.profile);
  if (enc) bits.push("written by " + enc + (/^Lav[fc]/.test(enc) ? " (FFmpeg: not a camera original)" : ""));
  if (exif.Make || exif.Model) bits.push("camera " + [exif.Make, exif.Model].filter(Boolean).join(" "));
  if (exif.Software) bits.push("software " + exif.Software);
  if (num(pick(rin, "rotation"))) bits.push("display rotation " + num(pick(rin, "rotation")) + "°");
  if (pick(rin, "hdr")) bits.push("HDR video, " + pick(rin, "hdr") + ": tone-mapped to SDR as a player shows it");
  $("file-line").textContent = bits.length ? "File: " + bits.join(" · ") + " (metadata is easy to edit: context, not evidence)" : "";
  // A boundary model's heatmap marks where a face was blended in, not the forged pixels
  // themselves: say which map is shown (report.model.target, localize.targets).
  const boundary = pick(model, "target") === "xray";
  $("score-meaning").textContent = boundary ? "blending-boundary band" : "forged-area fraction";
  $("heatmap-meaning").textContent = boundary
    ? "Heatmap: probability that a pixel lies on a blending boundary (Face X-ray). The yellow outline is the area the band outlines (the convex hull of its pieces): the suspected pasted face."
    : "Heatmap: forged-pixel probability. The yellow outline is the region at or above the pixel threshold.";

  renderIdentity(pick(r, "identity"));
  await setupMedia(job);
  renderTracks(r);
  await renderSuspicious(job);
  setupLinks(job);
  show("progress-panel", false);
  show("result");
  drawTimeline();
}

async function setupMedia(job) {
  const links = job.links || {};
  const ov = $("overlay"), orig = $("original"), still = $("still");
  const isImage = job.input && job.input.media && job.input.media.kind === "image";
  if (links.overlay && !isImage) {
    ov.hidden = false; still.hidden = true;
    ov.src = await mediaUrl(links.overlay);
    // The original is the file the analyst chose: it never leaves the browser again.
    if (state.file && state.file.type.startsWith("video/")) {
      const u = URL.createObjectURL(state.file); state.objectUrls.push(u);
      orig.src = u; orig.hidden = false;
      orig.onerror = () => { orig.hidden = true; note("This browser cannot play the original file: the slider fades the overlay over black."); };
    } else { orig.hidden = true; }
  } else {
    ov.hidden = true; orig.hidden = true; still.hidden = false;
    const first = Object.values(links.frames || {})[0];
    if (first) still.src = await mediaUrl(first);
  }
  applyOpacity();
}

// The zero-shot identity scorer's verdict (report.identity, `localize analyze --person`): shown beside
// the localizer's, never merged into it, and said so when the two disagree.
function renderIdentity(id) {
  const box = $("identity");
  box.replaceChildren();
  box.hidden = !id;
  if (!id) return;
  const head = document.createElement("div");
  const said = id.decision;
  if (said !== "fake" && said !== "real") {
    head.textContent = "Identity check against " + id.person + ": no verdict (" + (id.note || id.error || id.status) + ")";
    box.append(head);
    return;
  }
  const p = id.fake_probability || {};
  const b = document.createElement("strong");
  b.className = said; b.textContent = said.toUpperCase();
  head.append("Identity check against " + id.person + ": ", b,
    said === "fake" ? " · does not match the person's references" : " · consistent with the person's references");
  const facts = document.createElement("div");
  facts.className = "muted small";
  const fam = ["appearance", "behaviour", "stability"].filter((k) => num(p[k]) !== null).map((k) => k + " " + pct(p[k]));
  const prof = id.profile || {};
  facts.textContent = "Probability fake " + pct(num(p.fused)) + " (called fake at " + pct(num(id.threshold)) + " or more)" +
    (fam.length ? " · " + fam.join(" · ") : "") + " · zero-shot identity scorer, " + (prof.reference_videos ?? "?") +
    " reference video(s), " + (prof.reference_photos ?? 0) + " photo(s)";
  box.append(head, facts);
  if (id.disagreement) {  // set by the analysis when the two verdicts differ (report.json identity.disagreement)
    const w = document.createElement("div");
    w.className = "small"; w.dataset.disagree = "true";
    w.textContent = "⚠ " + id.disagreement;
    box.append(w);
  }
}

// The people this server can check an upload against (`localize serve --profiles DIR`).
async function loadProfiles() {
  let res;
  try { res = await api("v1/profiles"); } catch (e) { return; }
  if (!res.ok) return;
  const j = await res.json();
  const sel = $("person");
  sel.replaceChildren(sel.options[0]);
  for (const name of j.people || []) {
    const o = document.createElement("option");
    o.value = name; o.textContent = name.replace(/_/g, " ");
    sel.append(o);
  }
  $("person-option").hidden = !(j.enabled && (j.people || []).length);
}

function note(msg) { const n = $("original-note"); n.textContent = msg; n.hidden = false; }

function renderTracks(r) {
  const body = $("tracks").querySelector("tbody");
  body.innerHTML = "";
  const tracks = trackList(r);
  if (!tracks.length) {
    body.innerHTML = '<tr><td colspan="5" class="muted">no face found</td></tr>';
    return;
  }
  for (const t of tracks) {
    const tr = document.createElement("tr");
    const id = pick(t, "track_id", "id") ?? "?";
    const n = num(pick(t, "n_frames")) ?? (Array.isArray(t.frames) ? t.frames.length : "?");
    const first = pick(t, "first_frame"), last = pick(t, "last_frame");
    const span = first !== undefined && last !== undefined ? ` (${first}–${last})` : "";
    const fake = pick(t, "fake");
    const dec = fake === true ? "fake" : fake === false ? "real" : "";
    const p = num(pick(t, "probability"));
    const used = pick(t, "used_in_decision") === false ? ' <span class="muted">(too short to decide)</span>' : "";
    const px = num(pick(t, "face_px"));
    const face = (pick(t, "main") === true ? "main · " : "") + (px !== null ? `${Math.round(px)} px` : "—");
    tr.innerHTML = `<td>#${id}</td><td>${face}</td><td>${n}${span}</td><td>${fmt(num(pick(t, "score")))}</td>` +
      `<td class="${dec}">${dec ? dec + (p !== null ? " · p " + pct(p) : "") : "—"}${used}</td>`;
    tr.addEventListener("click", () => { if (first !== undefined) seekFrame(Number(first)); });
    body.appendChild(tr);
  }
}

async function renderSuspicious(job) {
  const box = $("suspicious");
  box.innerHTML = "";
  const frames = (job.links && job.links.frames) || {};
  const byIndex = new Map(state.frames.map((f) => [Number(f.index), f]));
  const idx = Object.keys(frames).map(Number)
    .sort((a, b) => ((byIndex.get(b) || {}).score ?? -1) - ((byIndex.get(a) || {}).score ?? -1));
  if (!idx.length) { box.innerHTML = '<div class="muted">no key frames</div>'; return; }
  for (const n of idx.slice(0, 12)) {
    const f = byIndex.get(n) || {};
    const fig = document.createElement("figure");
    const img = document.createElement("img");
    img.alt = "frame " + n; img.loading = "lazy";
    img.src = await mediaUrl(frames[String(n)]);
    const cap = document.createElement("figcaption");
    cap.textContent = `frame ${n} · score ${fmt(f.score)}`;
    fig.append(img, cap);
    fig.addEventListener("click", () => seekFrame(n));
    box.appendChild(fig);
  }
}

function setupLinks(job) {
  const links = job.links || {};
  const blob = new Blob([JSON.stringify(job.report, null, 2)], { type: "application/json" });
  const u = URL.createObjectURL(blob); state.objectUrls.push(u);
  const a = $("download-report");
  a.href = u; a.download = "report-" + job.id + ".json";
  const tl = $("timeline-png");
  tl.hidden = !links.timeline;
  if (links.timeline) mediaUrl(links.timeline).then((x) => { tl.href = x; });
  const cs = $("contact-sheet");
  cs.hidden = !links.contact_sheet;
  if (links.contact_sheet) mediaUrl(links.contact_sheet).then((x) => { cs.href = x; });
}

// ---------- player + timeline -----------------------------------------------------------
// Source frame n is what the timeline, the frame label and the report speak of; the
// overlay video is addressed by its own frame k (ovIdx[k] == n).
function overlayPos() {
  const k = Math.floor($("overlay").currentTime * state.ovFps + 1e-4);
  return Math.min(state.ovIdx.length - 1, Math.max(0, k));
}
function currentFrame() { return state.ovIdx.length ? state.ovIdx[overlayPos()] : 0; }

function nearestPos(n) {  // overlay position of the analysed frame nearest to source frame n
  let lo = 0, hi = state.ovIdx.length - 1;
  while (lo < hi) { const mid = (lo + hi) >> 1; if (state.ovIdx[mid] < n) lo = mid + 1; else hi = mid; }
  if (lo > 0 && Math.abs(state.ovIdx[lo - 1] - n) <= Math.abs(state.ovIdx[lo] - n)) lo -= 1;
  return lo;
}

function seekPos(k) {
  $("overlay").currentTime = (k + 0.5) / state.ovFps;  // mid-frame: no rounding onto a neighbour
  syncOriginal(true);
  drawTimeline();
}
function seekFrame(n) { seekPos(nearestPos(n)); }

function syncOriginal(force) {
  const ov = $("overlay"), orig = $("original");
  if (orig.hidden || !orig.src) return;
  if (state.stepped) {  // the overlay skips frames: show the same source frame, paused
    const n = currentFrame();
    if (force || n !== state.lastSrc) {
      state.lastSrc = n;
      orig.currentTime = state.vfr && state.timeOf.has(n) ? state.timeOf.get(n) + 0.3 / state.fps : (n + 0.5) / state.fps;
    }
    if (!orig.paused) orig.pause();
    return;
  }
  if (force || Math.abs(orig.currentTime - ov.currentTime) > 0.08) orig.currentTime = ov.currentTime;
  if (!ov.paused && orig.paused) orig.play().catch(() => {});
  if (ov.paused && !orig.paused) orig.pause();
}

function applyOpacity() {
  const v = Number($("opacity").value);
  $("opacity-value").textContent = v + "%";
  $("overlay").style.opacity = String(v / 100);
  $("still").style.opacity = String(Math.max(v, 15) / 100);
}

function drawTimeline() {
  const c = $("timeline");
  const w = c.clientWidth || 800, h = c.clientHeight || 140;
  const dpr = window.devicePixelRatio || 1;
  if (c.width !== Math.round(w * dpr)) { c.width = Math.round(w * dpr); c.height = Math.round(h * dpr); }
  const g = c.getContext("2d");
  g.setTransform(dpr, 0, 0, dpr, 0, 0);
  g.clearRect(0, 0, w, h);
  const pad = { l: 36, r: 8, t: 8, b: 18 };
  const pw = w - pad.l - pad.r, ph = h - pad.t - pad.b;
  const scores = state.frames.map((f) => f.score).filter((s) => s !== null);
  const ymax = Math.max(0.05, state.threshold || 0, ...scores) * 1.1;
  const X = (i) => pad.l + pw * (state.nFrames > 1 ? i / (state.nFrames - 1) : 0.5);
  const Y = (s) => pad.t + ph * (1 - s / ymax);
  g.strokeStyle = "#2d323b"; g.fillStyle = "#9aa3ad"; g.font = "11px system-ui"; g.lineWidth = 1;
  for (const s of [0, ymax / 2, ymax / 1.1]) {
    g.beginPath(); g.moveTo(pad.l, Y(s)); g.lineTo(w - pad.r, Y(s)); g.stroke();
    g.fillText(s.toFixed(2), 2, Y(s) + 4);
  }
  g.fillText("frame 0", pad.l, h - 4);
  const endLabel = "frame " + (state.nFrames - 1);
  g.fillText(endLabel, w - pad.r - g.measureText(endLabel).width, h - 4);
  if (state.threshold !== null) {
    g.strokeStyle = "#ffcc00"; g.setLineDash([5, 4]);
    g.beginPath(); g.moveTo(pad.l, Y(state.threshold)); g.lineTo(w - pad.r, Y(state.threshold)); g.stroke();
    g.setLineDash([]);
  }
  const pts = state.frames.filter((f) => f.score !== null).sort((a, b) => a.index - b.index);
  g.strokeStyle = "#4fa3ff"; g.lineWidth = 1.5; g.beginPath();
  pts.forEach((f, k) => { const x = X(f.index), y = Y(f.score); if (k) g.lineTo(x, y); else g.moveTo(x, y); });
  g.stroke();
  for (const f of pts) {
    g.fillStyle = state.threshold !== null && f.score > state.threshold ? "#ff5252" : "#4fa3ff";
    g.beginPath(); g.arc(X(f.index), Y(f.score), pts.length > 200 ? 1.5 : 3, 0, 2 * Math.PI); g.fill();
  }
  g.fillStyle = "#777";
  for (const f of state.frames) if (f.score === null) g.fillRect(X(f.index) - 1, h - pad.b - 6, 2, 6);
  // current frame marker
  const cur = currentFrame();
  g.strokeStyle = "#ffffff"; g.lineWidth = 2;
  g.beginPath(); g.moveTo(X(cur), pad.t); g.lineTo(X(cur), h - pad.b); g.stroke();
  c.dataset.currentFrame = String(cur);
  const f = state.frames.find((x) => x.index === cur);
  $("frame-label").textContent = `frame ${cur} / ${state.nFrames - 1} · ${(state.timeOf.get(cur) ?? cur / state.fps).toFixed(2)} s · ` +
    (f ? (f.score === null ? "no face" : "score " + fmt(f.score)) : "not analysed");
}

function timelineClick(ev) {
  const c = $("timeline"), rect = c.getBoundingClientRect();
  const pad = { l: 36, r: 8 };
  const frac = (ev.clientX - rect.left - pad.l) / (rect.width - pad.l - pad.r);
  seekFrame(Math.round(Math.min(1, Math.max(0, frac)) * (state.nFrames - 1)));
}

function tick() {
  const ov = $("overlay");
  if (!$("result").hidden && !ov.hidden) { syncOriginal(false); drawTimeline(); }
  $("play").textContent = ov.paused ? "▶" : "❚❚";
  requestAnimationFrame(tick);
}

function reset() {
  state.objectUrls.forEach((u) => URL.revokeObjectURL(u)); state.objectUrls = [];
  ["overlay", "original"].forEach((id) => { const v = $(id); v.pause(); v.removeAttribute("src"); v.load(); });
  show("result", false); show("error", false); show("progress-panel", false);
  $("original-note").hidden = true;
}

// ---------- wiring ----------------------------------------------------------------------
function init() {
  const drop = $("drop"), file = $("file");
  drop.addEventListener("click", () => file.click());
  drop.addEventListener("keydown", (e) => { if (e.key === "Enter" || e.key === " ") file.click(); });
  file.addEventListener("change", () => { const f = file.files[0]; if (f) { reset(); upload(f); } });
  ["dragenter", "dragover"].forEach((n) => drop.addEventListener(n, (e) => { e.preventDefault(); drop.classList.add("over"); }));
  ["dragleave", "drop"].forEach((n) => drop.addEventListener(n, (e) => { e.preventDefault(); drop.classList.remove("over"); }));
  drop.addEventListener("drop", (e) => { const f = e.dataTransfer.files[0]; if (f) { reset(); upload(f); } });
  $("opacity").addEventListener("input", applyOpacity);
  $("timeline").addEventListener("click", timelineClick);
  $("play").addEventListener("click", () => { const ov = $("overlay"); if (ov.paused) ov.play(); else ov.pause(); syncOriginal(true); });
  // step through the analysed frames (the ones with a heatmap)
  $("prev").addEventListener("click", () => { $("overlay").pause(); seekPos(Math.max(0, overlayPos() - 1)); });
  $("next").addEventListener("click", () => { $("overlay").pause(); seekPos(Math.min(state.ovIdx.length - 1, overlayPos() + 1)); });
  document.addEventListener("keydown", (e) => {
    if ($("result").hidden || e.target.tagName === "INPUT") return;
    if (e.key === "ArrowLeft") $("prev").click();
    if (e.key === "ArrowRight") $("next").click();
    if (e.key === " ") { e.preventDefault(); $("play").click(); }
  });
  $("overlay").addEventListener("seeked", () => { syncOriginal(true); drawTimeline(); });
  $("overlay").addEventListener("loadeddata", drawTimeline);
  $("again").addEventListener("click", () => { reset(); $("file").value = ""; show("upload"); });
  $("token").value = state.token;
  $("token-form").addEventListener("submit", (e) => {
    e.preventDefault();
    state.token = $("token").value.trim();
    sessionStorage.setItem("localize-token", state.token);
    $("auth").hidden = true; show("error", false);
    loadProfiles();
  });
  window.addEventListener("resize", drawTimeline);
  fetch("healthz").then((r) => r.json()).then((h) => {
    $("server-info").textContent = "server " + h.version + (h.auth ? " · token required" : "");
    if (h.auth && !state.token) $("auth").hidden = false;
    else loadProfiles();
  }).catch(() => { $("server-info").textContent = "server unreachable"; });
  requestAnimationFrame(tick);
}

init();

/**
 * The setup page: one self-contained HTML document (inline style and script, no framework, nothing loaded from
 * elsewhere), served by `roomcount setup`. A TypeScript string so that `npm run build` needs no copying step.
 * The script is plain browser JavaScript (no template literals: this file is one). It only draws and collects
 * clicks; every count comes from the server's recount API, which runs the service's own region filter.
 */
export const SETUP_PAGE = String.raw`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<link rel="icon" href="data:,">
<title>roomcount setup</title>
<style>
  :root { --include: #1db954; --exclude: #e5383b; --counted: #ffd60a; --ignored: #c8c8c8; --bg: #f4f5f7;
    --panel: #fff; --text: #1d2330; --muted: #5c6577; --line: #d9dde5; --accent: #2f6fde; }
  * { box-sizing: border-box; }
  [hidden] { display: none !important; }
  body { margin: 0; font: 14px/1.4 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--text);
    background: var(--bg); }
  header { display: flex; align-items: center; gap: 16px; flex-wrap: wrap; padding: 10px 18px; background: #1d2330;
    color: #fff; }
  header h1 { font-size: 17px; margin: 0; font-weight: 600; }
  header .file { color: #aab3c5; font-size: 13px; }
  nav { display: flex; gap: 6px; flex-wrap: wrap; }
  nav button { background: #323a4b; color: #e8ecf3; border: 1px solid #465068; border-radius: 6px; padding: 5px 12px;
    cursor: pointer; font: inherit; }
  nav button[aria-selected="true"] { background: #fff; color: #1d2330; border-color: #fff; font-weight: 600; }
  main { display: grid; grid-template-columns: minmax(0, 1fr) 400px; gap: 18px; padding: 18px; align-items: start; }
  @media (max-width: 900px) { main { grid-template-columns: 1fr; } }
  .view { background: var(--panel); border: 1px solid var(--line); border-radius: 10px; padding: 12px; }
  .frame-box { position: relative; background: #111; border-radius: 6px; min-height: 240px; overflow: hidden; }
  canvas { display: block; width: 100%; height: auto; cursor: default; }
  canvas.drawing { cursor: crosshair; }
  .placeholder { position: absolute; inset: 0; display: flex; align-items: center; justify-content: center;
    color: #d0d5df; padding: 20px; text-align: center; }
  .bar { display: flex; align-items: center; gap: 10px; flex-wrap: wrap; margin-top: 8px; color: var(--muted);
    font-size: 13px; }
  .bar .grow { flex: 1; }
  #hover { min-height: 1.4em; margin: 6px 0 0; font-size: 13px; }
  aside { display: flex; flex-direction: column; gap: 14px; }
  .card { background: var(--panel); border: 1px solid var(--line); border-radius: 10px; padding: 12px 14px; }
  .card h2 { font-size: 13px; text-transform: uppercase; letter-spacing: .04em; color: var(--muted); margin: 0 0 8px; }
  .count { display: flex; align-items: baseline; gap: 10px; }
  #count { font-size: 56px; font-weight: 700; line-height: 1; font-variant-numeric: tabular-nums; }
  #countLabel { font-size: 16px; }
  #countDetail { margin: 6px 0 0; color: var(--muted); font-size: 13px; }
  .buttons { display: flex; flex-wrap: wrap; gap: 6px; }
  button.b { font: inherit; padding: 6px 11px; border-radius: 6px; border: 1px solid var(--line); background: #fff;
    cursor: pointer; color: var(--text); }
  button.b:hover:not(:disabled) { border-color: var(--accent); }
  button.b:disabled { opacity: .45; cursor: default; }
  button.b.include { border-color: var(--include); }
  button.b.exclude { border-color: var(--exclude); }
  button.b.active { background: var(--text); color: #fff; }
  button.b.primary { background: var(--accent); color: #fff; border-color: var(--accent); }
  .hint { color: var(--muted); font-size: 13px; margin: 8px 0 0; }
  ul.areas { list-style: none; padding: 0; margin: 8px 0 0; }
  ul.areas li { display: flex; align-items: center; gap: 8px; padding: 3px 0; }
  ul.areas li .grow { flex: 1; }
  .swatch { display: inline-block; width: 12px; height: 12px; border-radius: 3px; vertical-align: -1px; }
  .sw-include { background: var(--include); }
  .sw-exclude { background: var(--exclude); }
  .sw-counted { background: var(--counted); }
  .sw-ignored { background: transparent; border: 2px dashed #8a93a5; }
  button.x { border: none; background: none; cursor: pointer; color: var(--muted); font-size: 15px; padding: 0 4px; }
  .row { display: flex; align-items: center; gap: 10px; }
  input[type=range] { flex: 1; }
  output { font-variant-numeric: tabular-nums; font-weight: 600; min-width: 3em; text-align: right; }
  select { font: inherit; padding: 4px; width: 100%; margin-top: 4px; }
  label[for=anchor] { display: block; margin-top: 10px; }
  pre { background: #1d2330; color: #e8ecf3; padding: 10px 12px; border-radius: 6px; white-space: pre-wrap;
    overflow-wrap: anywhere;
    font: 12.5px/1.45 ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; margin: 6px 0 8px; }
  #message { margin: 8px 0 0; font-size: 13px; min-height: 1.2em; white-space: pre-wrap; }
  #message.ok { color: #14813c; }
  #message.error { color: #c0262d; }
  .legend { display: flex; flex-wrap: wrap; gap: 6px 14px; font-size: 13px; color: var(--muted); }
  .privacy { color: var(--muted); font-size: 12px; margin: 0; }
</style>
</head>
<body>
<header>
  <h1>roomcount setup</h1>
  <span class="file" id="file"></span>
  <nav id="tabs" role="tablist" aria-label="Rooms"></nav>
</header>
<main>
  <section class="view">
    <div class="frame-box">
      <canvas id="frame" width="960" height="540" aria-label="Camera frame with detections and areas"></canvas>
      <div class="placeholder" id="placeholder">Loading…</div>
    </div>
    <p id="hover"></p>
    <div class="bar">
      <span id="frameInfo" class="grow"></span>
      <label><input type="checkbox" id="auto" checked> refresh every 3 s</label>
      <button class="b" id="refresh" type="button">Refresh</button>
    </div>
  </section>
  <aside>
    <div class="card">
      <div class="count"><span id="count" aria-live="polite">–</span><span id="countLabel">people counted</span></div>
      <p id="countDetail"></p>
    </div>
    <div class="card">
      <h2>Areas</h2>
      <div class="buttons">
        <button class="b include" id="newInclude" type="button">New include area</button>
        <button class="b exclude" id="newExclude" type="button">New exclude area</button>
        <button class="b" id="undo" type="button">Undo point</button>
        <button class="b" id="done" type="button">Done</button>
        <button class="b" id="clear" type="button">Clear</button>
      </div>
      <p class="hint" id="hint"></p>
      <ul class="areas" id="areas"></ul>
    </div>
    <div class="card">
      <h2>Detection</h2>
      <label for="minScore">minScore</label>
      <div class="row"><input type="range" id="minScore" min="0" max="0.99" step="0.01" value="0.3">
        <output id="minScoreValue" for="minScore">0.30</output></div>
      <p class="hint" id="minScoreNote"></p>
      <label for="anchor">Where a person is (region.anchor)</label>
      <select id="anchor">
        <option value="bottom-center">bottom-center: their feet (side-on cameras)</option>
        <option value="center">center: middle of the box (top-down cameras, seated people)</option>
      </select>
    </div>
    <div class="card">
      <h2>YAML</h2>
      <div id="yamlCaption" class="hint"></div>
      <pre id="yaml"></pre>
      <div class="buttons">
        <button class="b" id="copy" type="button">Copy</button>
        <button class="b primary" id="save" type="button" hidden>Save</button>
      </div>
      <p id="message" role="status"></p>
    </div>
    <div class="legend">
      <span><span class="swatch sw-include"></span> include area</span>
      <span><span class="swatch sw-exclude"></span> exclude area</span>
      <span><span class="swatch sw-counted"></span> counted</span>
      <span><span class="swatch sw-ignored"></span> not counted, and why (faint: below minScore)</span>
    </div>
    <p class="privacy">Pictures are served only to this page, from memory; nothing is written to disk.</p>
  </aside>
</main>
<script>
"use strict";
(function () {
  var TOKEN = new URLSearchParams(location.search).get("token") || "";
  var $ = function (id) { return document.getElementById(id); };
  var canvas = $("frame"), ctx = canvas.getContext("2d");
  var info = null, current = null, rooms = {}, lastRequest = 0, lastApplied = 0, inflight = 0;
  var mouse = null, hoverIndex = -1;
  var COLORS = { include: "#1db954", exclude: "#e5383b", counted: "#ffd60a", ignored: "rgba(240,240,240,0.9)",
    weak: "rgba(240,240,240,0.45)" };

  function withToken(path) { return path + (path.indexOf("?") < 0 ? "?" : "&") + "token=" + encodeURIComponent(TOKEN); }

  function api(path, body) {
    var init = body === undefined ? {} :
      { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) };
    return fetch(withToken(path), init).then(function (res) {
      return res.json().catch(function () { return {}; }).then(function (data) {
        if (!res.ok) throw new Error(data.error || ("HTTP " + res.status));
        return data;
      });
    });
  }

  function room() { return rooms[current]; }

  function editBody(r, seq) {
    return { room: r.id, seq: seq, minScore: r.minScore,
      region: { include: r.include, exclude: r.exclude, anchor: r.anchor } };
  }

  function setMessage(text, kind) { var m = $("message"); m.textContent = text; m.className = kind || ""; }

  // ---- talking to the server -------------------------------------------------------------------------------

  /** Recount on the frame shown (fresh: on the camera's newest frame). */
  function recount(fresh) {
    var r = room();
    if (!r) return;
    var id = ++lastRequest;
    inflight++;
    api("/api/recount", editBody(r, fresh || !r.snap || !r.snap.frame ? null : r.snap.frame.seq)).then(function (data) {
      if (id < lastApplied || r !== room()) return;
      lastApplied = id;
      r.snap = data;
      r.yaml = data.yaml;
      if (data.frame && (!r.image || r.imageSeq !== data.frame.seq)) return loadImage(r, data.frame.seq);
    }).catch(function (err) {
      setMessage(err.message, "error");
    }).then(function () {
      inflight--;
      render();
    });
  }

  function loadImage(r, seq) {
    return fetch(withToken("/api/frame?room=" + encodeURIComponent(r.id) + "&seq=" + seq)).then(function (res) {
      if (!res.ok) throw new Error("frame: HTTP " + res.status);
      return res.blob();
    }).then(function (blob) { return createImageBitmap(blob); }).then(function (bitmap) {
      if (r.image && r.image.close) r.image.close();
      r.image = bitmap;
      r.imageSeq = seq;
    });
  }

  function save() {
    var r = room();
    setMessage("Saving…", "");
    api("/api/save", editBody(r, null)).then(function (data) {
      r.yaml = data.yaml;
      setMessage(data.message, "ok");
      render();
    }).catch(function (err) { setMessage(err.message, "error"); });
  }

  function copy() {
    var text = $("yaml").textContent;
    var fallback = function () {
      var range = document.createRange();
      range.selectNodeContents($("yaml"));
      var sel = getSelection();
      sel.removeAllRanges();
      sel.addRange(range);
      var ok = document.execCommand && document.execCommand("copy");
      setMessage(ok ? "Copied." : "Selected: press Ctrl+C (or Cmd+C) to copy.", ok ? "ok" : "");
    };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(function () { setMessage("Copied.", "ok"); }, fallback);
    } else fallback();
  }

  // ---- editing -------------------------------------------------------------------------------------------

  function startArea(kind) {
    var r = room();
    if (r.drawing && r.drawing.points.length >= 3) closeArea();
    r.drawing = { kind: kind, points: [] };
    render();
  }

  function closeArea() {
    var r = room(), d = r.drawing;
    if (!d) return;
    if (d.points.length < 3) { setMessage("An area needs at least 3 points.", "error"); return; }
    r[d.kind].push(d.points);
    r.drawing = null;
    setMessage("", "");
    recount(false);
  }

  function undoPoint() {
    var r = room();
    if (r.drawing && r.drawing.points.length) r.drawing.points.pop();
    else if (r.drawing) r.drawing = null;
    render();
  }

  function clearAreas() {
    var r = room();
    r.include = [];
    r.exclude = [];
    r.drawing = null;
    recount(false);
  }

  function round3(v) { return Math.round(Math.min(1, Math.max(0, v)) * 1000) / 1000; }

  function eventPoint(e) {
    var rect = canvas.getBoundingClientRect();
    return [round3((e.clientX - rect.left) / rect.width), round3((e.clientY - rect.top) / rect.height)];
  }

  canvas.addEventListener("click", function (e) {
    var r = room();
    if (!r || !r.drawing) return;
    var p = eventPoint(e), pts = r.drawing.points, last = pts[pts.length - 1];
    var rect = canvas.getBoundingClientRect();
    // The two clicks of a double-click land on one spot: one point, not three.
    if (last && Math.abs(last[0] - p[0]) * rect.width < 5 && Math.abs(last[1] - p[1]) * rect.height < 5) return;
    pts.push(p);
    render();
  });
  canvas.addEventListener("dblclick", function (e) { e.preventDefault(); if (room() && room().drawing) closeArea(); });
  canvas.addEventListener("mousemove", function (e) {
    mouse = eventPoint(e);
    hoverIndex = boxAt(mouse);
    render();
  });
  canvas.addEventListener("mouseleave", function () { mouse = null; hoverIndex = -1; render(); });
  document.addEventListener("keydown", function (e) {
    var r = room();
    if (!r || !r.drawing || e.target.tagName === "INPUT" || e.target.tagName === "SELECT") return;
    if (e.key === "Enter") closeArea();
    else if (e.key === "Escape") { r.drawing = null; render(); }
    else if (e.key === "Backspace" || ((e.ctrlKey || e.metaKey) && e.key === "z")) { e.preventDefault(); undoPoint(); }
  });

  var slideTimer = 0;
  $("minScore").addEventListener("input", function () {
    var r = room();
    r.minScore = Number($("minScore").value);
    $("minScoreValue").textContent = r.minScore.toFixed(2);
    clearTimeout(slideTimer);
    slideTimer = setTimeout(function () { recount(false); }, 120);
  });
  $("anchor").addEventListener("change", function () { room().anchor = $("anchor").value; recount(false); });
  $("newInclude").addEventListener("click", function () { startArea("include"); });
  $("newExclude").addEventListener("click", function () { startArea("exclude"); });
  $("undo").addEventListener("click", undoPoint);
  $("done").addEventListener("click", closeArea);
  $("clear").addEventListener("click", clearAreas);
  $("refresh").addEventListener("click", function () { recount(true); });
  $("copy").addEventListener("click", copy);
  $("save").addEventListener("click", save);
  window.addEventListener("resize", function () { render(); });

  // ---- drawing -------------------------------------------------------------------------------------------

  function boxAt(p) {
    var r = room(), s = r && r.snap;
    if (!p || !s || !s.frame) return -1;
    var x = p[0] * s.frame.width, y = p[1] * s.frame.height, best = -1, bestArea = Infinity;
    s.detections.forEach(function (d, i) {
      var b = d.box, area = (b[2] - b[0]) * (b[3] - b[1]);
      if (x >= b[0] && x <= b[2] && y >= b[1] && y <= b[3] && area < bestArea) { best = i; bestArea = area; }
    });
    return best;
  }

  function polygonPath(points, w, h) {
    ctx.beginPath();
    points.forEach(function (p, i) { if (i) ctx.lineTo(p[0] * w, p[1] * h); else ctx.moveTo(p[0] * w, p[1] * h); });
  }

  function drawArea(points, kind, w, h, dpr) {
    polygonPath(points, w, h);
    ctx.closePath();
    ctx.fillStyle = kind === "include" ? "rgba(29,185,84,0.16)" : "rgba(229,56,59,0.22)";
    ctx.fill();
    ctx.lineWidth = 2.5 * dpr;
    ctx.strokeStyle = COLORS[kind];
    ctx.stroke();
  }

  function label(text, x, y, bg, fg, dpr) {
    ctx.font = (12 * dpr) + "px system-ui, sans-serif";
    var pad = 3 * dpr, tw = ctx.measureText(text).width, th = 15 * dpr;
    var top = y - th < 0 ? y : y - th;
    ctx.fillStyle = bg;
    ctx.fillRect(x, top, tw + 2 * pad, th);
    ctx.fillStyle = fg;
    ctx.textBaseline = "middle";
    ctx.fillText(text, x + pad, top + th / 2 + 0.5);
  }

  function draw() {
    var r = room(), s = r && r.snap;
    var img = r && r.image;
    var dpr = window.devicePixelRatio || 1;
    var cssWidth = canvas.parentElement.clientWidth;
    var fw = img ? img.width : 16, fh = img ? img.height : 9;
    var w = Math.round(cssWidth * dpr), h = Math.round(cssWidth * dpr * fh / fw);
    if (canvas.width !== w || canvas.height !== h) { canvas.width = w; canvas.height = h; }
    ctx.clearRect(0, 0, w, h);
    if (!img) return;
    ctx.drawImage(img, 0, 0, w, h);
    r.include.forEach(function (p) { drawArea(p, "include", w, h, dpr); });
    r.exclude.forEach(function (p) { drawArea(p, "exclude", w, h, dpr); });
    if (s && s.frame && r.imageSeq === s.frame.seq) {
      var k = w / s.frame.width;
      s.detections.forEach(function (d, i) {
        var b = d.box, x = b[0] * k, y = b[1] * k, bw = (b[2] - b[0]) * k, bh = (b[3] - b[1]) * k;
        var hot = i === hoverIndex, weak = !d.counted && d.reason === "below minScore";
        var color = d.counted ? COLORS.counted : weak ? COLORS.weak : COLORS.ignored;
        ctx.setLineDash(d.counted ? [] : weak ? [2 * dpr, 3 * dpr] : [5 * dpr, 4 * dpr]);
        ctx.lineWidth = (d.counted ? 3 : weak ? 1 : 1.5) * dpr * (hot ? 2 : 1);
        ctx.strokeStyle = hot && weak ? COLORS.ignored : color;
        ctx.strokeRect(x, y, bw, bh);
        ctx.setLineDash([]);
        var ax = x + bw / 2, ay = r.anchor === "center" ? y + bh / 2 : y + bh;
        ctx.beginPath();
        ctx.arc(ax, ay, (weak ? 2 : 3.5) * dpr, 0, 2 * Math.PI);
        ctx.fillStyle = color;
        ctx.fill();
        // Near misses stay quiet (a crowded picture has dozens) until pointed at.
        if (d.counted) label(d.score.toFixed(2), x, y, COLORS.counted, "#1d2330", dpr);
        else if (!weak || hot) label(d.score.toFixed(2) + " " + d.reason, x, y, "rgba(20,24,33,0.82)", "#fff", dpr);
      });
    }
    if (r.drawing) {
      var pts = r.drawing.points.slice();
      if (mouse && pts.length) pts.push(mouse);
      if (pts.length > 1) {
        polygonPath(pts, w, h);
        ctx.setLineDash([6 * dpr, 4 * dpr]);
        ctx.lineWidth = 2.5 * dpr;
        ctx.strokeStyle = COLORS[r.drawing.kind];
        ctx.stroke();
        ctx.setLineDash([]);
      }
      r.drawing.points.forEach(function (p) {
        ctx.beginPath();
        ctx.arc(p[0] * w, p[1] * h, 4 * dpr, 0, 2 * Math.PI);
        ctx.fillStyle = "#fff";
        ctx.fill();
        ctx.lineWidth = 2 * dpr;
        ctx.strokeStyle = COLORS[r.drawing.kind];
        ctx.stroke();
      });
    }
  }

  var STATES = {
    connecting: "connecting to the camera…", streaming: "camera streaming", stalled: "camera stalled (no frames)",
    unauthorised: "the camera refused the user name or password", not_found: "the camera has no such stream",
    unreachable: "camera unreachable", ended: "end of the file", stopped: "camera stopped"
  };

  function ago(ms) {
    var s = Math.max(0, Math.round((Date.now() - ms) / 1000));
    return s < 60 ? s + " s ago" : Math.round(s / 60) + " min ago";
  }

  function render() {
    var r = room();
    if (!r) return;
    var s = r.snap, cam = s && s.camera;
    var camText = cam ? STATES[cam.state] || cam.state : "";
    if (cam && cam.state !== "streaming" && cam.detail) camText += " (" + cam.detail + ")";
    $("placeholder").hidden = !!r.image;
    $("placeholder").textContent = s && !s.frame ? "Waiting for the first frame: " + camText : "Loading…";
    $("frameInfo").textContent = s && s.frame
      ? "Frame " + new Date(s.frame.capturedAt).toLocaleTimeString() + " (" + ago(s.frame.capturedAt) + "), " +
        s.frame.width + "×" + s.frame.height + " as the detector sees it · " + camText
      : camText;
    if (s && s.frame && s.count !== null) {
      $("count").textContent = String(s.count);
      $("countLabel").textContent = s.count === 1 ? "person counted" : "people counted";
      var why = {};
      s.detections.forEach(function (d) { if (!d.counted) why[d.reason] = (why[d.reason] || 0) + 1; });
      var parts = Object.keys(why).map(function (k) { return why[k] + " " + k; });
      $("countDetail").textContent = s.detections.length + " detection" + (s.detections.length === 1 ? "" : "s") +
        (parts.length ? "; not counted: " + parts.join(", ") : "");
    } else {
      $("count").textContent = "–";
      $("countDetail").textContent = "";
    }
    var d = s && s.frame && hoverIndex >= 0 ? s.detections[hoverIndex] : null;
    $("hover").textContent = d ? "score " + d.score.toFixed(2) + " · " + (d.counted ? "counted" : "not counted: " + d.reason) : "";

    var drawing = !!r.drawing;
    canvas.className = drawing ? "drawing" : "";
    $("newInclude").className = "b include" + (drawing && r.drawing.kind === "include" ? " active" : "");
    $("newExclude").className = "b exclude" + (drawing && r.drawing.kind === "exclude" ? " active" : "");
    $("undo").disabled = !drawing;
    $("done").disabled = !drawing;
    $("clear").disabled = !drawing && !r.include.length && !r.exclude.length;
    $("hint").textContent = drawing
      ? "Click on the picture to add points (" + r.drawing.points.length + " so far); double-click, Enter or Done closes the " + r.drawing.kind + " area."
      : r.include.length ? "A person counts when their " + r.anchor + " point is in a green area and not in a red one."
      : "No include area: the whole picture counts. Draw one to count only part of it.";
    var list = $("areas");
    list.textContent = "";
    ["include", "exclude"].forEach(function (kind) {
      r[kind].forEach(function (p, i) {
        var li = document.createElement("li");
        var sw = document.createElement("span");
        sw.className = "swatch sw-" + kind;
        var t = document.createElement("span");
        t.className = "grow";
        t.textContent = (kind === "include" ? "Include" : "Exclude") + " area " + (i + 1) + " · " + p.length + " points";
        var x = document.createElement("button");
        x.className = "x";
        x.type = "button";
        x.title = "Remove this area";
        x.setAttribute("aria-label", "Remove " + kind + " area " + (i + 1));
        x.textContent = "✕";
        x.addEventListener("click", function () { r[kind].splice(i, 1); recount(false); });
        li.append(sw, t, x);
        list.append(li);
      });
    });
    $("minScore").value = String(r.minScore);
    $("minScoreValue").textContent = r.minScore.toFixed(2);
    $("anchor").value = r.anchor;
    $("yaml").textContent = r.yaml || "";
    $("yamlCaption").textContent = "Room " + r.id + " in " + info.file + " (replaces its region: block):";
    draw();
  }

  function renderTabs() {
    var tabs = $("tabs");
    tabs.textContent = "";
    info.rooms.forEach(function (ri) {
      var b = document.createElement("button");
      b.type = "button";
      b.setAttribute("role", "tab");
      b.setAttribute("aria-selected", String(ri.id === current));
      b.textContent = ri.id;
      b.title = ri.locationType + " · " + ri.camera;
      b.addEventListener("click", function () { select(ri.id); });
      tabs.append(b);
    });
  }

  function select(id) {
    current = id;
    hoverIndex = -1;
    setMessage("", "");
    renderTabs();
    render();
    recount(true);
  }

  api("/api/rooms").then(function (data) {
    info = data;
    $("file").textContent = data.file + " · " + data.detector.model + " (" + data.detector.backend + ")";
    $("save").hidden = !data.write;
    $("save").textContent = "Save to " + data.file;
    var min = data.detector.minScore;
    $("minScore").min = String(min);
    $("minScoreNote").textContent = "Boxes scoring from " + data.detector.showFrom.toFixed(2) +
      " are shown; a room's minScore can only raise the file's detector.minScore (" + min.toFixed(2) + ").";
    data.rooms.forEach(function (ri) {
      rooms[ri.id] = { id: ri.id, include: ri.region.include, exclude: ri.region.exclude, anchor: ri.region.anchor,
        minScore: ri.minScore, drawing: null, snap: null, image: null, imageSeq: -1, yaml: "" };
    });
    if (data.rooms.length) select(data.rooms[0].id);
  }).catch(function (err) { $("placeholder").textContent = "Cannot load the rooms: " + err.message; });

  setInterval(function () {
    var r = room();
    if (!r || document.hidden || inflight) return;
    if (r.snap && r.snap.frame && $("auto").checked) recount(true);
  }, 3000);
  setInterval(function () { var r = room(); if (r && (!r.snap || !r.snap.frame) && !inflight) recount(true); }, 1000);
})();
</script>
</body>
</html>
`;

// Tandem web console. Plain JavaScript, no framework and nothing fetched
// from outside this broker (the page's Content-Security-Policy allows only
// its own origin). Data comes from the REST v3 API (/kafka/v3/...) and the
// console endpoints (/console/api/...); docs/console.md describes both.
"use strict";

const REFRESH_MS = 2000;
const views = ["overview", "topics", "groups", "links", "mirrors"];
const state = { cluster: null, overview: null, view: "overview", open: new Set(), busy: false, defs: {} };

// ---- helpers ----

function esc(s) {
  return String(s ?? "").replace(/[&<>"']/g, c => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
}
function $(id) { return document.getElementById(id); }
// setHTML replaces an element's content only when it changed, so rows and
// buttons stay the same nodes between polls.
function setHTML(id, html) {
  const el = $(id);
  if (el._html !== html) { el.innerHTML = html; el._html = html; }
}
function fmtInt(n) { return n == null || n < 0 ? "—" : Number(n).toLocaleString("en-US"); }
function fmtBytes(n) {
  if (n == null || n < 0) return "—";
  const u = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  while (n >= 1024 && i < u.length - 1) { n /= 1024; i++; }
  return (i === 0 ? n : n.toFixed(1)) + " " + u[i];
}
function fmtMs(ms) {
  if (ms == null || ms < 0) return "—";
  if (ms < 1000) return ms + " ms";
  const s = ms / 1000;
  if (s < 120) return s.toFixed(1) + " s";
  if (s < 7200) return (s / 60).toFixed(1) + " min";
  return (s / 3600).toFixed(1) + " h";
}
function fmtSecs(r) {
  if (r.stopped) return "—";
  if (r.seconds_at_risk >= 0) return fmtMs(Math.round(r.seconds_at_risk * 1000));
  if (r.seconds_at_risk_at_least > 0) return "≥ " + fmtMs(Math.round(r.seconds_at_risk_at_least * 1000));
  return "unknown";
}
function stateSpan(s, attrs) { return `<span class="state ${esc(s)}" ${attrs || ""}>${esc(s)}</span>`; }

// api calls the broker. Every request with a body is JSON and says so
// (the REST API refuses a POST without Content-Type: application/json).
async function api(method, path, body) {
  const opts = { method, headers: { "Accept": "application/json" }, credentials: "same-origin" };
  if (body !== undefined) {
    opts.headers["Content-Type"] = "application/json";
    opts.body = JSON.stringify(body);
  }
  const resp = await fetch(path, opts);
  let json = null;
  const text = await resp.text();
  if (text) { try { json = JSON.parse(text); } catch (e) { json = { message: text }; } }
  if (!resp.ok) {
    const err = new Error((json && json.message) || `HTTP ${resp.status}`);
    err.status = resp.status;
    err.body = json;
    throw err;
  }
  return json;
}
function c() { return "/kafka/v3/clusters/" + encodeURIComponent(state.cluster); }
function linkPath(l) { return c() + "/links/" + encodeURIComponent(l); }

function setStatus(msg, bad) {
  const s = $("status");
  s.textContent = msg;
  s.className = bad ? "err" : "muted";
}

// ---- charts (inline SVG) ----

const COLORS = ["#2557d6", "#d92d20", "#079455", "#dc6803", "#7a5af8", "#0e9384", "#c11574", "#667085"];

// chart draws series ({name, points:[{t, v}]}) as lines over time.
function chart(series, opts) {
  const W = opts.width || 640, H = opts.height || 160, L = 56, R = 10, T = 10, B = 22;
  let t0 = Infinity, t1 = -Infinity, vmax = 0;
  for (const s of series) for (const p of s.points) {
    if (p.v < 0) continue;
    t0 = Math.min(t0, p.t); t1 = Math.max(t1, p.t); vmax = Math.max(vmax, p.v);
  }
  if (!isFinite(t0)) return `<p class="muted">No samples yet (one every ${esc(state.overview?.history_interval_seconds ?? 10)} s).</p>`;
  if (t1 === t0) t1 = t0 + 1000;
  if (vmax === 0) vmax = 1;
  const x = t => L + (t - t0) / (t1 - t0) * (W - L - R);
  const y = v => T + (1 - v / vmax) * (H - T - B);
  let out = `<svg class="chart" role="img" aria-label="${esc(opts.label || "lag over time")}" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}">`;
  out += `<line class="axis" x1="${L}" y1="${T}" x2="${L}" y2="${H - B}"/><line class="axis" x1="${L}" y1="${H - B}" x2="${W - R}" y2="${H - B}"/>`;
  out += `<text x="${L - 4}" y="${T + 8}" text-anchor="end">${esc(fmtInt(vmax))}</text><text x="${L - 4}" y="${H - B}" text-anchor="end">0</text>`;
  const fmtT = t => new Date(t).toLocaleTimeString("en-GB");
  out += `<text x="${L}" y="${H - 6}">${esc(fmtT(t0))}</text><text x="${W - R}" y="${H - 6}" text-anchor="end">${esc(fmtT(t1))}</text>`;
  series.forEach((s, i) => {
    const pts = s.points.filter(p => p.v >= 0).map(p => `${x(p.t).toFixed(1)},${y(p.v).toFixed(1)}`);
    if (pts.length === 1) pts.push(pts[0].replace(/^[\d.]+/, m => (Number(m) + 2).toFixed(1)));
    out += `<polyline class="line" stroke="${COLORS[i % COLORS.length]}" points="${pts.join(" ")}"><title>${esc(s.name)}</title></polyline>`;
  });
  out += "</svg>";
  if (series.length > 1) {
    out += `<div class="legend">` + series.map((s, i) => `<span><svg width="10" height="10"><rect width="10" height="10" fill="${COLORS[i % COLORS.length]}"/></svg> ${esc(s.name)}</span>`).join("") + `</div>`;
  }
  return out;
}

// ---- views ----

function card(k, v) { return `<div class="card"><div class="v${String(v).length > 12 ? " long" : ""}">${v}</div><div class="k">${esc(k)}</div></div>`; }

async function renderOverview() {
  const o = await api("GET", "/console/api/overview");
  state.overview = o;
  let html = `<h2>Cluster</h2><div class="cards">` +
    card("cluster id", esc(o.cluster_id)) + card("broker (node id)", esc(o.node_id)) + card("version", esc(o.version)) +
    card("topics", fmtInt(o.topics)) + card("partitions", fmtInt(o.partitions)) + card("log size", fmtBytes(o.log_bytes)) +
    card("links", o.cluster_linking_enabled ? fmtInt(o.links) : "disabled") + card("mirror topics", fmtInt(o.mirrors)) +
    `</div><h2>Broker</h2><table><tbody>` +
    `<tr><th>Kafka listeners</th><td>${esc((o.kafka_listeners || []).join(", "))}</td></tr>` +
    `<tr><th>Advertised</th><td>${esc(o.advertised)}</td></tr>` +
    `<tr><th>HTTP listeners</th><td>${esc((o.http_listeners || []).join(", "))}</td></tr>` +
    `<tr><th>Log directory</th><td>${esc(o.log_dir)}</td></tr>` +
    `<tr><th>Started</th><td>${esc(new Date(o.started_ms).toISOString())}</td></tr>` +
    `<tr><th>Lag history</th><td>one sample every ${esc(o.history_interval_seconds)} s, ${esc(o.history_points)} points per series (${esc(fmtMs(o.history_interval_seconds * o.history_points * 1000))}), at most ${esc(fmtBytes(o.history_max_bytes))}</td></tr>` +
    `</tbody></table>`;
  if (o.cluster_linking_enabled) {
    const rd = await api("GET", "/console/api/readiness");
    html += `<h2>Failover readiness</h2>` + readinessTable(rd.links, "link");
  }
  setHTML("view-overview", html);
}

async function renderTopics() {
  const ts = (await api("GET", "/console/api/topics")).data;
  let html = `<h2>Topics</h2><table><thead><tr><th>Topic</th><th class="num">Partitions</th><th class="num">Records (offsets)</th><th class="num">Size</th><th>Mirror</th></tr></thead><tbody>`;
  for (const t of ts) {
    const key = "topic:" + t.topic_name;
    html += `<tr class="clickable" data-toggle="${esc(key)}" data-topic="${esc(t.topic_name)}"><td>${esc(t.topic_name)}${t.is_internal ? ' <span class="muted">(internal)</span>' : ""}</td>` +
      `<td class="num">${t.partitions.length}</td><td class="num">${fmtInt(t.records)}</td><td class="num">${fmtBytes(t.size_bytes)}</td>` +
      `<td>${t.mirror_link ? esc(t.mirror_link) + " " + stateSpan(t.mirror_status) : ""}</td></tr>`;
    if (state.open.has(key)) {
      html += `<tr class="detail"><td colspan="5"><h3>Partitions</h3><table><thead><tr><th>Partition</th><th class="num">Leader</th><th class="num">Epoch</th><th class="num">Log start</th><th class="num">High watermark</th><th class="num">Log end</th><th class="num">Size</th><th class="num">Segments</th></tr></thead><tbody>` +
        t.partitions.map(p => `<tr><td>${p.partition_id}</td><td class="num">${p.leader}</td><td class="num">${p.leader_epoch}</td><td class="num">${fmtInt(p.log_start_offset)}</td><td class="num">${fmtInt(p.high_watermark)}</td><td class="num">${fmtInt(p.log_end_offset)}</td><td class="num">${fmtBytes(p.size_bytes)}</td><td class="num">${p.segments}</td></tr>`).join("") +
        `</tbody></table><h3>Configs</h3>${await topicConfigs(t.topic_name)}</td></tr>`;
    }
  }
  html += `</tbody></table>`;
  setHTML("view-topics", html);
}

async function topicConfigs(name) {
  try {
    const cs = (await api("GET", c() + "/topics/" + encodeURIComponent(name) + "/configs")).data;
    return `<table><thead><tr><th>Name</th><th>Value</th><th>Source</th></tr></thead><tbody>` +
      cs.map(e => `<tr><td>${esc(e.name)}</td><td>${e.is_sensitive ? "(sensitive)" : esc(e.value)}</td><td class="muted">${esc(e.source)}${e.is_default ? "" : ""}</td></tr>`).join("") + `</tbody></table>`;
  } catch (e) { return `<p class="err">${esc(e.message)}</p>`; }
}

async function renderGroups() {
  let gs;
  try { gs = (await api("GET", "/console/api/groups")).data; } catch (e) { setHTML("view-groups", `<p class="err">${esc(e.message)}</p>`); return; }
  let html = `<h2>Consumer groups</h2>`;
  if (!gs.length) html += `<p class="muted">No consumer groups.</p>`;
  else {
    html += `<table><thead><tr><th>Group</th><th>State</th><th>Protocol</th><th class="num">Members</th><th class="num">Lag (records)</th></tr></thead><tbody>`;
    for (const g of gs) {
      const key = "group:" + g.group_id;
      html += `<tr class="clickable" data-toggle="${esc(key)}"><td>${esc(g.group_id)}</td><td>${stateSpan(g.state)}${g.error ? ` <span class="err">${esc(g.error)}</span>` : ""}</td><td>${esc(g.protocol_type)} ${esc(g.protocol)}</td><td class="num">${g.members}</td><td class="num">${fmtInt(g.lag)}</td></tr>`;
      if (state.open.has(key)) {
        html += `<tr class="detail"><td colspan="5"><table><thead><tr><th>Topic</th><th class="num">Partition</th><th class="num">Committed</th><th class="num">High watermark</th><th class="num">Lag</th></tr></thead><tbody>` +
          g.offsets.map(o => `<tr><td>${esc(o.topic_name)}</td><td class="num">${o.partition_id}</td><td class="num">${fmtInt(o.committed_offset)}</td><td class="num">${fmtInt(o.high_watermark)}</td><td class="num">${fmtInt(o.lag)}</td></tr>`).join("") +
          `</tbody></table></td></tr>`;
      }
    }
    html += `</tbody></table>`;
  }
  setHTML("view-groups", html);
}

function readinessCells(r, attrs) {
  if (r.stopped) return `<td class="num" colspan="4">failed over / promoted: nothing at risk</td>`;
  const rec = r.records_known ? fmtInt(r.records_at_risk) : (r.records_at_risk > 0 ? "≥ " + fmtInt(r.records_at_risk) : "unknown");
  return `<td class="num risk-records" ${attrs || ""}>${rec}</td><td class="num">${r.bytes_at_risk_estimate >= 0 ? "~" + fmtBytes(r.bytes_at_risk_estimate) : "unknown"}</td>` +
    `<td class="num risk-seconds">${fmtSecs(r)}</td><td class="muted">${esc(r.consumer_offsets)}</td>`;
}
const readinessHead = `<th class="num" title="records_at_risk">Records at risk</th><th class="num" title="bytes_at_risk_estimate">Bytes at risk (estimate)</th><th class="num" title="seconds_at_risk">Seconds at risk</th><th title="consumer_offset_lag">Consumer-offset lag</th>`;

function definitions() {
  const d = state.defs || {};
  return `<details><summary>How these numbers are defined</summary>` +
    Object.keys(d).map(k => `<p class="def"><b>${esc(k)}</b>: ${esc(d[k])}</p>`).join("") + `</details>`;
}

function readinessTable(links, kind) {
  if (!links || !links.length) return `<p class="muted">No links.</p>`;
  return `<table><thead><tr><th>Link</th><th>State</th><th class="num" title="mirrors not stopped">Mirroring</th>${readinessHead}<th class="num">Oldest fetch</th></tr></thead><tbody>` +
    links.map(l => `<tr><td>${esc(l.link_name)}</td><td>${stateSpan(l.link_state)}</td><td class="num">${l.mirrors}</td>${readinessCells(l, `data-link="${esc(l.link_name)}"`)}<td class="num">${fmtMs(l.max_last_fetch_age_ms)}</td></tr>`).join("") +
    `</tbody></table>`;
}

const linkingDisabled = `<p class="muted">Cluster linking is disabled on this broker (set <code>cluster.link.enable=true</code>).</p>`;

async function renderLinks() {
  if (!state.overview.cluster_linking_enabled) { setHTML("links-body", linkingDisabled); return; }
  const links = (await api("GET", c() + "/links")).data;
  const rd = await api("GET", "/console/api/readiness");
  state.defs = rd.definitions;
  const byName = Object.fromEntries(rd.links.map(l => [l.link_name, l]));
  let html = `<h2>Cluster links</h2>`;
  if (!links.length) html += `<p class="muted">No links. Create one to start mirroring.</p>`;
  else {
    html += `<table><thead><tr><th>Link</th><th>State</th><th>Error</th><th>Source cluster</th><th class="num">Mirrors</th>${readinessHead}</tr></thead><tbody>`;
    for (const l of links) {
      const key = "link:" + l.link_name;
      const r = byName[l.link_name] || { records_at_risk: -1, bytes_at_risk_estimate: -1, seconds_at_risk: -1 };
      html += `<tr class="clickable" data-toggle="${esc(key)}" data-link="${esc(l.link_name)}"><td>${esc(l.link_name)}</td><td>${stateSpan(l.link_state, `data-link-state="${esc(l.link_name)}"`)}</td>` +
        `<td>${l.link_error && l.link_error !== "NO_ERROR" ? `<span class="err">${esc(l.link_error)}</span> ${esc(l.link_error_message || "")}` : '<span class="muted">none</span>'}</td>` +
        `<td>${esc(l.source_cluster_id || "")}</td><td class="num">${(l.topic_names || []).length}</td>${readinessCells(r)}</tr>`;
      if (state.open.has(key)) html += `<tr class="detail"><td colspan="9">${await linkDetail(l.link_name)}</td></tr>`;
    }
    html += `</tbody></table>` + definitions();
  }
  setHTML("links-body", html);
}

async function linkDetail(name) {
  let html = "";
  try {
    const l = await api("GET", linkPath(name) + "?include_tasks=true");
    html += `<h3>Tasks</h3><table><thead><tr><th>Task</th><th>State</th><th>Errors</th><th>Last run</th><th>Last success</th></tr></thead><tbody>` +
      (l.tasks || []).map(t => `<tr><td>${esc(t.task_name)}</td><td>${stateSpan(t.state)}</td><td>${(t.errors || []).map(e => `<span class="err">${esc(e.error_code)}</span> ${esc(e.error_message)}`).join("<br>")}</td>` +
        `<td>${t.last_run_ms ? esc(new Date(t.last_run_ms).toLocaleTimeString("en-GB")) : "—"}</td><td>${t.last_success_ms ? esc(new Date(t.last_success_ms).toLocaleTimeString("en-GB")) : "—"}</td></tr>`).join("") +
      `</tbody></table>`;
    html += `<h3>Mirror partitions by state</h3><p>${(l.category_counts || []).map(cc => `${esc(cc.state_category)}: ${cc.count}`).join(", ") || "none"}</p>`;
  } catch (e) { html += `<p class="err">${esc(e.message)}</p>`; }
  try {
    const h = await api("GET", "/console/api/history?link=" + encodeURIComponent(name));
    html += `<h3>Lag over time (records, all mirrors)</h3>` + chart([{ name, points: h.points.map(p => ({ t: p.t, v: p.lag })) }], { label: "link lag over time" });
  } catch (e) { html += `<p class="err">${esc(e.message)}</p>`; }
  return html;
}

async function renderMirrors() {
  if (!state.overview.cluster_linking_enabled) { setHTML("mirrors-body", linkingDisabled); return; }
  const ms = (await api("GET", c() + "/links/-/mirrors")).data;
  const rd = await api("GET", "/console/api/readiness");
  state.defs = rd.definitions;
  const rByKey = Object.fromEntries(rd.mirrors.map(m => [m.link_name + "/" + m.mirror_topic_name, m]));
  let html = `<h2>Mirror topics</h2>`;
  if (!ms.length) html += `<p class="muted">No mirror topics.</p>`;
  else {
    html += `<table><thead><tr><th>Mirror</th><th>Link</th><th>Source topic</th><th>State</th><th class="num">Lag (records)</th><th class="num">Last fetch age</th>${readinessHead}<th>Actions</th></tr></thead><tbody>`;
    for (const m of ms) {
      const key = "mirror:" + m.link_name + "/" + m.mirror_topic_name;
      const lag = m.mirror_lags.reduce((a, p) => a + Math.max(p.lag, 0), 0);
      const unknown = m.mirror_lags.some(p => p.lag < 0);
      const fetchAge = m.mirror_lags.reduce((a, p) => Math.max(a, p.time_since_last_fetch_ms), -1);
      const r = rByKey[m.link_name + "/" + m.mirror_topic_name] || { records_at_risk: -1, bytes_at_risk_estimate: -1, seconds_at_risk: -1 };
      const da = `data-mirror="${esc(m.mirror_topic_name)}" data-link="${esc(m.link_name)}"`;
      const act = op => `<button type="button" data-action="${op}" ${da}>${op}</button>`;
      const stopped = m.mirror_status === "STOPPED" || m.mirror_status === "PENDING_STOPPED";
      html += `<tr class="clickable" data-toggle="${esc(key)}" ${da}><td>${esc(m.mirror_topic_name)}</td><td>${esc(m.link_name)}</td><td>${esc(m.source_topic_name)}</td>` +
        `<td>${stateSpan(m.mirror_status, `data-mirror-state="${esc(m.mirror_topic_name)}"`)}${m.mirror_topic_error && m.mirror_topic_error !== "NO_ERROR" ? ` <span class="err">${esc(m.mirror_topic_error)}</span>` : ""}</td>` +
        `<td class="num lag" ${da}>${unknown && lag === 0 ? "unknown" : fmtInt(lag)}</td><td class="num">${fmtMs(fetchAge)}</td>${readinessCells(r)}` +
        `<td class="actions">${stopped ? "" : (m.mirror_status === "PAUSED" ? act("resume") : act("pause")) + act("failover") + act("promote")}</td></tr>`;
      if (state.open.has(key)) html += `<tr class="detail"><td colspan="12">${await mirrorDetail(m, r)}</td></tr>`;
    }
    html += `</tbody></table>` + definitions();
  }
  setHTML("mirrors-body", html);
}

async function mirrorDetail(m, r) {
  const rp = Object.fromEntries((r.partitions || []).map(p => [p.partition, p]));
  let html = `<h3>Partitions</h3><table><thead><tr><th>Partition</th><th class="num">Lag</th><th class="num">Mirror end</th><th class="num">Source end (known)</th><th class="num">Source end age</th><th class="num">Last fetch age</th>${readinessHead}</tr></thead><tbody>` +
    m.mirror_lags.map(p => `<tr><td>${p.partition}</td><td class="num">${fmtInt(p.lag)}</td><td class="num">${fmtInt(p.local_log_end_offset)}</td><td class="num">${fmtInt(p.source_end_offset)}</td><td class="num">${fmtMs(p.source_end_age_ms)}</td><td class="num">${fmtMs(p.time_since_last_fetch_ms)}</td>${rp[p.partition] ? readinessCells(rp[p.partition]) : '<td colspan="4"></td>'}</tr>`).join("") +
    `</tbody></table>`;
  try {
    const h = await api("GET", "/console/api/history?link=" + encodeURIComponent(m.link_name) + "&mirror=" + encodeURIComponent(m.mirror_topic_name));
    html += `<h3>Lag over time (records per partition)</h3>` + chart(h.partitions.map(s => ({ name: "partition " + s.partition, points: s.points.map(p => ({ t: p.t, v: p.lag })) })), { label: "mirror lag over time" });
    html += `<h3>Last fetch age over time (ms)</h3>` + chart(h.partitions.map(s => ({ name: "partition " + s.partition, points: s.points.map(p => ({ t: p.t, v: p.last_fetch_age_ms })) })), { label: "fetch age over time", height: 120 });
  } catch (e) { html += `<p class="err">${esc(e.message)}</p>`; }
  return html;
}

const renderers = { overview: renderOverview, topics: renderTopics, groups: renderGroups, links: renderLinks, mirrors: renderMirrors };

async function refresh() {
  if (state.busy) { state.again = true; return; }
  state.busy = true;
  state.again = false;
  try {
    if (!state.cluster) {
      const o = await api("GET", "/console/api/overview");
      state.cluster = o.cluster_id;
      state.overview = o;
      $("cluster-id").textContent = "cluster " + o.cluster_id + " · node " + o.node_id;
      $("create-link-btn").hidden = $("create-mirror-btn").hidden = !o.cluster_linking_enabled;
    }
    await renderers[state.view]();
    setStatus("updated " + new Date().toLocaleTimeString("en-GB"));
  } catch (e) {
    setStatus(e.message, true);
  } finally {
    state.busy = false;
  }
  if (state.again) refresh(); // a click came in while this one ran
}

function route() {
  const v = location.hash.replace(/^#/, "");
  state.view = views.includes(v) ? v : "overview";
  for (const name of views) {
    $("view-" + name).hidden = name !== state.view;
    $("nav-" + name).classList.toggle("active", name === state.view);
  }
  refresh();
}

// ---- dialogs: create link, create mirror, mirror operations ----

function showResult(el, ok, msg, extra) {
  el.innerHTML = `<p class="${ok ? "ok" : "err"}">${esc(msg)}</p>${extra || ""}`;
}

function linkBody() {
  const configs = [{ name: "bootstrap.servers", value: $("link-bootstrap").value.trim() }];
  for (const line of $("link-configs").value.split("\n")) {
    const t = line.trim();
    if (!t || t.startsWith("#")) continue;
    const i = t.indexOf("=");
    if (i <= 0) throw new Error(`config line "${t}" is not name=value`);
    configs.push({ name: t.slice(0, i).trim(), value: t.slice(i + 1).trim() });
  }
  const body = { configs };
  const src = $("link-source-id").value.trim();
  if (src) body.source_cluster_id = src;
  return body;
}

async function linkCall(validateOnly) {
  const pv = $("link-preview");
  const name = $("link-name").value.trim();
  if (!name || !$("link-bootstrap").value.trim()) { showResult(pv, false, "Link name and source bootstrap servers are required."); return false; }
  try {
    await api("POST", c() + "/links?link_name=" + encodeURIComponent(name) + (validateOnly ? "&validate_only=true" : ""), linkBody());
    showResult(pv, true, validateOnly ? `Dry run: link ${name} is valid and the source is reachable.` : `Link ${name} created.`);
    return true;
  } catch (e) { showResult(pv, false, e.message); return false; }
}

async function mirrorCall(validateOnly) {
  const pv = $("mirror-preview");
  const link = $("mirror-link").value, source = $("mirror-source").value.trim(), name = $("mirror-name").value.trim();
  if (!link || !source) { showResult(pv, false, "Link and source topic are required."); return false; }
  const body = { source_topic_name: source };
  if (name) body.mirror_topic_name = name;
  if (validateOnly) body.validate_only = true;
  try {
    await api("POST", linkPath(link) + "/mirrors", body);
    showResult(pv, true, validateOnly ? `Dry run: mirror of ${source} on ${link} can be created.` : `Mirror of ${source} created on ${link}.`);
    return true;
  } catch (e) { showResult(pv, false, e.message); return false; }
}

const opText = {
  pause: "Stops fetching for this mirror. The topic stays read-only; resume continues where it stopped.",
  resume: "Starts fetching again from where the mirror stopped.",
  failover: "Stops mirroring now, without waiting to catch up, and makes the topic writable. Records the source has that the mirror does not (the records at risk below) are not copied. This cannot be undone.",
  promote: "Waits until the mirror has caught up with the source, then stops mirroring and makes the topic writable. Refused while the mirror lags or the source is unreachable. This cannot be undone.",
};

let pendingOp = null;

async function openOp(link, mirror, op) {
  pendingOp = { link, mirror, op };
  $("op-title").textContent = `${op[0].toUpperCase() + op.slice(1)} mirror ${mirror} (link ${link})`;
  $("op-explain").textContent = opText[op];
  $("op-preview").innerHTML = `<p class="muted">Dry run…</p>`;
  $("op-confirm").disabled = true;
  $("op-confirm").textContent = "Confirm " + op;
  $("op-dialog").showModal();
  try {
    const res = await api("POST", linkPath(link) + "/mirrors:" + op, { mirror_topic_names: [mirror], validate_only: true });
    const d = res.data[0];
    if (d.error_code != null) {
      showResult($("op-preview"), false, `Dry run refused: ${d.error_message}`);
      return;
    }
    const rd = await api("GET", "/console/api/readiness");
    const r = rd.mirrors.find(m => m.link_name === link && m.mirror_topic_name === mirror);
    let extra = `<table><thead><tr><th>Partition</th><th class="num">Lag</th><th class="num">Mirror end</th><th class="num">Source end (known)</th><th class="num">Source end age</th></tr></thead><tbody>` +
      d.mirror_lags.map(p => `<tr><td>${p.partition}</td><td class="num">${fmtInt(p.lag)}</td><td class="num">${fmtInt(p.local_log_end_offset)}</td><td class="num">${fmtInt(p.source_end_offset)}</td><td class="num">${fmtMs(p.source_end_age_ms)}</td></tr>`).join("") + `</tbody></table>`;
    if (r && (op === "failover" || op === "promote")) {
      extra += `<h3>Recovery point if you ${op} now</h3><table><thead><tr>${readinessHead}</tr></thead><tbody><tr>${readinessCells(r)}</tr></tbody></table>`;
    }
    showResult($("op-preview"), true, `Dry run OK: ${op} would be accepted.`, extra);
    $("op-confirm").disabled = false;
  } catch (e) {
    showResult($("op-preview"), false, `Dry run failed: ${e.message}`);
  }
}

async function confirmOp() {
  if (!pendingOp) return;
  const { link, mirror, op } = pendingOp;
  $("op-confirm").disabled = true;
  try {
    const res = await api("POST", linkPath(link) + "/mirrors:" + op, { mirror_topic_names: [mirror] });
    const d = res.data[0];
    if (d.error_code != null) { showResult($("op-preview"), false, `${op} failed: ${d.error_message}`); return; }
    showResult($("op-preview"), true, `${op} accepted for ${mirror}.`);
    pendingOp = null;
    setTimeout(() => { $("op-dialog").close(); refresh(); }, 600);
  } catch (e) { showResult($("op-preview"), false, `${op} failed: ${e.message}`); }
}

async function openMirrorDialog() {
  const links = (await api("GET", c() + "/links")).data;
  $("mirror-link").innerHTML = links.map(l => `<option value="${esc(l.link_name)}">${esc(l.link_name)}</option>`).join("");
  $("mirror-preview").innerHTML = "";
  $("mirror-dialog").showModal();
}

function init() {
  window.addEventListener("hashchange", route);
  document.addEventListener("click", ev => {
    const a = ev.target.closest("button[data-action]");
    if (a) { ev.stopPropagation(); openOp(a.dataset.link, a.dataset.mirror, a.dataset.action); return; }
    const row = ev.target.closest("tr[data-toggle]");
    if (row) {
      const k = row.dataset.toggle;
      if (state.open.has(k)) state.open.delete(k); else state.open.add(k);
      refresh();
    }
  });
  $("create-link-btn").addEventListener("click", () => { $("link-preview").innerHTML = ""; $("link-dialog").showModal(); });
  $("link-cancel").addEventListener("click", () => $("link-dialog").close());
  $("link-validate").addEventListener("click", () => linkCall(true));
  $("link-submit").addEventListener("click", async () => {
    if (await linkCall(true) && await linkCall(false)) { setTimeout(() => { $("link-dialog").close(); refresh(); }, 400); }
  });
  $("create-mirror-btn").addEventListener("click", () => openMirrorDialog().catch(e => setStatus(e.message, true)));
  $("mirror-cancel").addEventListener("click", () => $("mirror-dialog").close());
  $("mirror-validate").addEventListener("click", () => mirrorCall(true));
  $("mirror-submit").addEventListener("click", async () => {
    if (await mirrorCall(true) && await mirrorCall(false)) { setTimeout(() => { $("mirror-dialog").close(); refresh(); }, 400); }
  });
  $("op-cancel").addEventListener("click", () => { pendingOp = null; $("op-dialog").close(); });
  $("op-confirm").addEventListener("click", confirmOp);
  route();
  // Poll only while the page is visible; catch up when it is shown again.
  setInterval(() => { if (!document.hidden) refresh(); }, REFRESH_MS);
  document.addEventListener("visibilitychange", () => { if (!document.hidden) refresh(); });
}

document.addEventListener("DOMContentLoaded", init);

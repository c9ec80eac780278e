// afirs-dspy serve: the chat on the left, the selected turn's explanation on the right.
"use strict";
const $ = (id) => document.getElementById(id);
// One conversation per page: a random id the server keys it by (getRandomValues works on plain http too).
const session = Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, "0")).join("");
let opener = null;  // the conversation's first message, replayed when the method changes
let busy = false;

function el(tag, cls, text) {
  const node = document.createElement(tag);
  if (cls) node.className = cls;
  if (text !== undefined && text !== null) node.textContent = String(text);
  return node;
}
function add(parent, ...children) { children.forEach((c) => c && parent.appendChild(c)); return parent; }
function problem(message) { $("problem").hidden = !message; $("problem").textContent = message || ""; }
function badge(status) { return el("span", "badge " + status, status); }

async function loadInfo() {
  const info = await (await fetch("/api/info")).json();
  $("method").replaceChildren(...info.methods.map((m) => Object.assign(el("option", null, m), {value: m})));
  for (const u of info.users) {
    const option = el("option", null, `user ${u.id} · ${u.items} items · ${u.recent.join("; ")}`);
    option.value = u.id;
    $("user").appendChild(option);
  }
  $("dataset").textContent = info.dataset ? `dataset: ${info.dataset}` : "";
  problem(info.error);
}

async function reset() {
  opener = null;
  $("messages").replaceChildren();
  const response = await fetch("/api/reset", {method: "POST", headers: {"Content-Type": "application/json"},
    body: JSON.stringify({session, method: $("method").value, user: $("user").value})});
  const body = await response.json();
  problem(body.error);
}

function message(role, text, meta) {
  const node = add(el("div", "msg " + role), meta ? el("div", "meta", meta) : null, el("div", "text", text));
  $("messages").appendChild(node);
  $("messages").scrollTop = $("messages").scrollHeight;
  return node;
}

function progress() {
  const box = $("progress");
  box.replaceChildren();
  box.hidden = false;
  const running = el("div", "running", "⏳ working… 0 s");
  box.appendChild(running);
  const started = Date.now();
  let label = "working";
  const timer = setInterval(() => { running.textContent = `⏳ ${label}… ${Math.round((Date.now() - started) / 1000)} s`; }, 500);
  return {
    stage(s) {
      const line = s.line || `${s.activity}: done`;
      const tokens = s.prompt_tokens + s.completion_tokens;
      box.insertBefore(el("div", "stage", `${line} (${s.seconds.toFixed(1)} s, ${s.lm_calls} LM calls, ${tokens} tokens)`), running);
      label = "working";
    },
    waiting(data) { label = data.message; },
    done() { clearInterval(timer); box.hidden = true; },
  };
}

async function send(text) {
  if (busy || !text) return;
  busy = true;
  $("send").disabled = true;
  if (opener === null) opener = text;
  message("user", text);
  const shown = progress();
  try {
    const response = await fetch("/api/turn", {method: "POST", headers: {"Content-Type": "application/json"},
      body: JSON.stringify({session, text, method: $("method").value, user: $("user").value})});
    if (!response.ok) {
      const error = (await response.json()).error || response.statusText;
      problem(error);
      message("error", error);
      return;
    }
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    let buffer = "";
    for (;;) {
      const {value, done} = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, {stream: true});
      let end;
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const name = (block.match(/^event: (.*)$/m) || [])[1];
        const data = JSON.parse((block.match(/^data: (.*)$/m) || [])[1] || "{}");
        if (name === "stage") shown.stage(data);
        else if (name === "waiting") shown.waiting(data);
        else if (name === "turn") reply(data);
        else if (name === "error") { problem(data.message); message("error", data.message); }
      }
    }
  } catch (error) {
    problem(`the server did not answer (${error.message}); is afirs-dspy serve still running?`);
  } finally {
    shown.done();
    busy = false;
    $("send").disabled = false;
    $("input").focus();
  }
}

function reply(turn) {
  problem(null);
  const seconds = turn.stages.reduce((t, s) => t + s.seconds, 0);
  const node = message("assistant", turn.reply, `${turn.method} · turn ${turn.turn} · ${turn.action} · ${seconds.toFixed(1)} s`);
  node.addEventListener("click", () => explain(turn, node));
  explain(turn, node);
}

function bars(rows, cls) {
  const max = Math.max(1, ...rows.map((r) => r.count));
  return rows.map((r) => add(el("div", "bar-row"), el("span", null, r.label),
    add(el("div"), Object.assign(el("div", "bar " + (r.cls || cls || "")), {style: `width:${(100 * r.count / max).toFixed(1)}%`})),
    el("span", "count", r.count)));
}

function explain(turn, node) {
  document.querySelectorAll(".msg.selected").forEach((n) => n.classList.remove("selected"));
  node.classList.add("selected");
  const out = $("explanation");
  out.replaceChildren();
  const d = turn.decision;
  add(out, el("h2", null, "Decision"),
    add(el("div", "decision"), badge(turn.action), d.reason ? el("span", null, `reason: ${d.reason}`) : null, d.status ? badge(d.status) : null),
    ...d.notes.map((n) => el("div", "note", n)));
  if (turn.session) {
    const s = turn.session;
    const facts = [["in force", s.preferences.join("; ") || "no preference"], ["ruled out", s.refused.join(", ")],
      ["years", s.years], ["away from", s.avoided.join(", ")],
      ["left out", s.rejected.length ? `${s.rejected.length} shown before: ` + s.rejected.map((i) => i.title).join("; ") : ""],
      ["this message", s.notes.join("; ")]];
    add(out, el("h2", null, "Session"), add(el("div", "session"), ...facts.filter(([, v]) => v).map(([k, v]) =>
      add(el("div", "fact"), el("span", "n", `${k}: `), el("span", null, v)))));
  }
  if (turn.extraction) {
    add(out, el("h2", null, "Preference tree path"));
    const path = add(el("div", "tree-path"), ...turn.extraction.levels.map((level) => add(el("div", "level"),
      el("span", "n", `level ${level.level}`),
      ...level.shown.map((o) => el("span", "chip" + (level.picked.includes(o) ? " picked" : ""), o)),
      level.picked.length ? null : el("span", "note", " nothing picked: the extraction stopped here"))));
    const proposed = turn.extraction.proposed.length
      ? el("div", "note", "proposed by similarity, confirmed by the LM: " + turn.extraction.proposed.join("; ")) : null;
    add(out, path, proposed, el("div", "note", "session preferences: " + (turn.extraction.paths.join("; ") || "none")));
  }
  if (turn.funnel) {
    const f = turn.funnel;
    const rows = f.preferences.map((p) => ({label: `under ${p.name}`, count: p.items}));
    if (f.intersection !== null && f.preferences.length > 1) rows.push({label: "under every preference", count: f.intersection});
    rows.push(...f.stages.map((s) => ({label: `ranked ${s.label}`, count: s.items})));
    rows.push({label: `top ${f.ranked} by SASRec ${f.scored_by}`, count: f.ranked});
    if (f.refined !== null) rows.push({label: "refined", count: f.refined, cls: "final"});
    add(out, el("h2", null, "Two-stage funnel"), add(el("div", "funnel"), ...bars(rows)),
      f.relaxed.length ? el("div", "note", "relaxed (too few items): " + f.relaxed.join("; ")) : null,
      f.widened.length ? el("div", "note", "parents counted half: " + f.widened.map((p) => p.join(" → ")).join("; ")) : null,
      f.refine_status ? add(el("div", "note"), el("span", null, "refinement: "), badge(f.refine_status)) : null,
      el("div", "note", f.note));
  }
  for (const aspect of turn.aspects) {
    add(out, el("h2", null, `Question aspect: ${aspect.path}`),
      add(el("div", "aspect"), ...bars(aspect.options.map((o) => ({label: o.name, count: o.items})), "aspect")),
      el("div", "note", `how many of the ${aspect.total} candidates hold each option`));
  }
  if (turn.items.length) {
    add(out, el("h2", null, `Items (${turn.items_are})`), add(el("div", "cards"), ...turn.items.map((c) =>
      add(el("div", "card"), el("div", "title", c.title), el("div", "muted", c.attributes.join(", ")), el("div", "why", c.why)))));
  }
  const table = add(el("table", "steps"), add(el("tr"), ...["step", "status", "seconds", "LM calls", "tokens"].map((h) => el("th", null, h))));
  for (const s of turn.stages) {
    add(table, add(el("tr"), el("td", null, s.activity), add(el("td"), badge(s.status)), el("td", "num", s.seconds.toFixed(1)),
      el("td", "num", s.lm_calls), el("td", "num", s.prompt_tokens + s.completion_tokens)));
  }
  add(out, el("h2", null, "Steps"), table, add(el("details"), el("summary", null, `trace (${turn.trace.length} steps)`),
    add(el("ul"), ...turn.trace.map((e) => add(el("li"), el("code", null, e.step), el("span", null, " "), e.status ? badge(e.status) : null,
      el("span", null, " " + [e.note, ...(e.errors || [])].filter(Boolean).join("; ")))))));
}

$("composer").addEventListener("submit", (event) => {
  event.preventDefault();
  const text = $("input").value.trim();
  $("input").value = "";
  send(text);
});
$("reset").addEventListener("click", reset);
$("user").addEventListener("change", reset);
$("method").addEventListener("change", async () => {
  const again = opener;  // compare methods on the same opener
  await reset();
  if (again) send(again);
});
loadInfo().then(reset);

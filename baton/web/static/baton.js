// Baton web view: draws a workflow's graph and keeps the pages live over Server-Sent Events.
// Every value from the server goes through textContent or setAttribute, never innerHTML.
"use strict";

(() => {
  const SVG = "http://www.w3.org/2000/svg";
  const SETTLED = new Set(["completed", "discarded", "cancelled", "deleted", "skipped"]);
  const FAILED = new Set(["discarded", "cancelled", "deleted"]);
  const ORDER = ["executing", "retryable", "available", "scheduled", "awaiting_signal", "suspended",
    "discarded", "cancelled", "deleted", "skipped", "completed"];
  const GROUP_LIMIT = 12; // larger groups are drawn as one node with a bar of states
  const MAX_NODES = 400; // past this, the graph is left out (the table still lists every step)
  const NODE = { w: 184, h: 46, modelH: 14, gapX: 64, gapY: 12, pad: 20, label: 18, groupPad: 10 };

  const body = document.body;
  const base = body.dataset.base || "";
  const csrfMeta = document.querySelector('meta[name="baton-csrf"]');
  const csrf = csrfMeta ? csrfMeta.getAttribute("content") : "";
  const live = document.getElementById("live");
  const view = { snapshots: 0, events: 0, clockOffset: 0 };
  window.batonView = view;

  // --- small helpers ------------------------------------------------------------------------

  function build(ns, tag, attrs, children) {
    const node = ns ? document.createElementNS(ns, tag) : document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value !== null && value !== undefined && value !== false) {
        node.setAttribute(key, String(value));
      }
    }
    for (const child of children || []) {
      if (child === null || child === undefined || child === "") continue;
      node.append(typeof child === "string" || typeof child === "number" ? String(child) : child);
    }
    return node;
  }
  const el = (tag, attrs, ...children) => build(null, tag, attrs, children);
  const svg = (tag, attrs, ...children) => build(SVG, tag, attrs, children);

  function stateClass(state) {
    return /^[a-z_]{1,20}$/.test(state || "") ? state : "unknown";
  }

  function duration(ms) {
    if (ms === null || ms === undefined) return "";
    let seconds = ms / 1000;
    if (seconds < 10) return `${seconds.toFixed(2)} s`;
    if (seconds < 60) return `${seconds.toFixed(1)} s`;
    seconds = Math.floor(seconds);
    const minutes = Math.floor(seconds / 60);
    if (minutes < 60) return `${minutes} min ${seconds % 60} s`;
    return `${Math.floor(minutes / 60)} h ${minutes % 60} min`;
  }

  const number = (n) => Number(n || 0).toLocaleString("en-US");

  function usageText(usage) {
    if (!usage) return "";
    const parts = [];
    if (usage.model) parts.push(usage.model);
    const tokens = ["input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens"]
      .map((name) => usage[name] || 0);
    if (tokens.some(Boolean)) {
      let text = `${number(tokens[0])} in / ${number(tokens[1])} out`;
      if (tokens[2] || tokens[3]) {
        text += ` (cache ${number(tokens[2])} read, ${number(tokens[3])} written)`;
      }
      parts.push(text);
    }
    if (usage.cost_usd !== null && usage.cost_usd !== undefined) parts.push(`$${usage.cost_usd}`);
    return parts.join(" · ");
  }

  function time(iso) {
    if (!iso) return "";
    const date = new Date(iso);
    return el("time", { datetime: iso, title: iso }, date.toLocaleTimeString());
  }

  // Steps of a sub-workflow and steps added at run time have paths: "research/fetch".
  const last = (path) => path.slice(path.lastIndexOf("/") + 1);

  function namespacesOf(path) { // outermost first: ["a", "a/b"] for "a/b/c"
    const parts = path.split("/");
    return parts.slice(1).map((_, end) => parts.slice(0, end + 1).join("/"));
  }

  const badge = (state) => el("span", { class: `badge state-${stateClass(state)}` }, state);

  function since(iso, ms, running) {
    // A duration that keeps counting while the workflow runs (see tick()).
    return el("span", { "data-since": running ? iso : null }, duration(ms));
  }

  function tick() {
    const now = Date.now() - view.clockOffset;
    for (const node of document.querySelectorAll("[data-since]")) {
      node.textContent = duration(now - Date.parse(node.getAttribute("data-since")));
    }
  }

  function setLive(state, text) {
    if (!live) return;
    live.dataset.state = state;
    live.textContent = text;
  }

  // One stream; EventSource reconnects by itself after a drop (the server then sends a
  // fresh snapshot); if the server refused the stream, start a new one a little later.
  function connect(url, handlers) {
    const source = new EventSource(url);
    source.addEventListener("open", () => setLive("live", "live"));
    source.addEventListener("error", () => {
      if (source.readyState === EventSource.CLOSED) {
        setLive("reconnecting", "disconnected, retrying…");
        setTimeout(() => connect(url, handlers), 5000);
      } else {
        setLive("reconnecting", "reconnecting…");
      }
    });
    for (const [name, handle] of Object.entries(handlers)) {
      source.addEventListener(name, (message) => {
        const data = JSON.parse(message.data);
        if (name === "snapshot") {
          view.snapshots += 1;
          if (data.generated_at) view.clockOffset = Date.now() - Date.parse(data.generated_at);
        } else {
          view.events += 1;
        }
        if (handle(data) === false) source.close(); // the stream is over for good
        body.dataset.snapshots = String(view.snapshots);
      });
    }
    return source;
  }

  // --- the workflow list --------------------------------------------------------------------

  function workflowRow(wf) {
    const href = `${base}/workflows/${encodeURIComponent(wf.id)}`;
    return el("tr", { "data-id": wf.id },
      el("td", {}, el("a", { href }, wf.name || wf.id), el("div", { class: "sub" }, el("code", {}, wf.id))),
      el("td", {}, badge(wf.state)),
      el("td", {}, el("progress", { max: Math.max(wf.steps, 1), value: wf.settled }),
        ` ${wf.settled} / ${wf.steps} settled`),
      el("td", {}, time(wf.inserted_at)),
      el("td", {}, since(wf.inserted_at, wf.duration_ms, wf.state === "running")));
  }

  function startList() {
    const tbody = document.querySelector("#workflows tbody");
    const empty = document.getElementById("empty");
    const params = new URLSearchParams();
    if (body.dataset.limit) params.set("limit", body.dataset.limit);
    if (body.dataset.state) params.set("state", body.dataset.state);
    connect(`${base}/api/events?${params}`, {
      snapshot(data) {
        tbody.replaceChildren(...data.workflows.map(workflowRow));
        if (empty) empty.hidden = data.workflows.length > 0;
      },
      finished(event) {
        const row = tbody.querySelector(`tr[data-id="${CSS.escape(event.workflow_id)}"]`);
        if (row) row.classList.add("flash");
      },
    });
  }

  // --- the workflow page: graph -------------------------------------------------------------

  function groupState(steps) {
    const counts = {};
    for (const step of steps) counts[step.state] = (counts[step.state] || 0) + 1;
    const state = ORDER.find((name) => counts[name]) || "unknown";
    return { state: steps.every((s) => s.state === "completed") ? "completed" : state, counts };
  }

  // Nodes sit in columns by layer, in the server's order, which keeps each namespace's steps
  // together. Around them, boxes: one per namespace (a sub-workflow, or the steps a step
  // added, "added by plan") and one per group, nested, each a groupPad inside the one around.
  function layout(data) {
    const collapsed = new Set(Object.entries(data.groups)
      .filter(([, members]) => members.length > GROUP_LIMIT).map(([name]) => name));
    const names = new Set(data.steps.map((step) => step.name));
    const nodes = new Map();
    const nodeOf = new Map();
    for (const step of data.steps) {
      const big = step.group !== null && collapsed.has(step.group);
      const id = big ? `group\u0000${step.group}` : `step\u0000${step.name}`;
      if (!nodes.has(id)) {
        const name = big ? step.group : step.name;
        const boxes = namespacesOf(name).map((path) => ({ kind: "namespace", name: path }));
        if (step.group !== null && !big) boxes.push({ kind: "group", name: step.group });
        nodes.set(id, { id, big, group: step.group, name, layer: step.layer, steps: [], boxes });
      }
      const node = nodes.get(id);
      node.layer = Math.max(node.layer, step.layer);
      node.steps.push(step);
      nodeOf.set(step.name, node);
    }
    const seen = new Set();
    const edges = [];
    for (const [up, down] of data.edges) {
      const from = nodeOf.get(up);
      const to = nodeOf.get(down);
      const key = from && to ? `${from.id}\u0001${to.id}` : null;
      if (key && from !== to && !seen.has(key)) {
        seen.add(key);
        edges.push([from, to]);
      }
    }
    const levels = Math.max(1, ...[...nodes.values()].map((node) => node.boxes.length));
    const inset = NODE.groupPad * levels;
    const column = NODE.w + 2 * inset + NODE.gapX - 2 * NODE.groupPad;
    const h = data.steps.some((step) => step.model) ? NODE.h + NODE.modelH : NODE.h;
    const columns = [];
    for (const node of nodes.values()) (columns[node.layer] ||= []).push(node);
    const boxes = [];
    let height = 0;
    columns.forEach((nodesHere, layer) => {
      let y = NODE.pad;
      const open = [];
      const close = (keep) => {
        while (open.length > keep) {
          const box = open.pop();
          box.bottom = y - NODE.gapY + NODE.groupPad;
          y = box.bottom + NODE.gapY;
        }
      };
      (nodesHere || []).forEach((node) => {
        let same = 0;
        while (same < open.length && same < node.boxes.length
          && open[same].kind === node.boxes[same].kind && open[same].name === node.boxes[same].name) {
          same += 1;
        }
        close(same);
        for (const { kind, name } of node.boxes.slice(same)) {
          const label = kind === "group" ? `${last(name)} ×${data.groups[name].length}`
            : names.has(name) ? `added by ${last(name)}` : last(name);
          const box = { kind, name, label, added: kind === "namespace" && names.has(name),
            level: open.length, x: NODE.pad + layer * column + open.length * NODE.groupPad, top: y };
          box.width = NODE.w + 2 * (inset - box.level * NODE.groupPad);
          boxes.push(box);
          open.push(box);
          y += NODE.label + NODE.groupPad;
        }
        node.x = NODE.pad + layer * column + inset;
        node.y = y;
        y += h + NODE.gapY;
      });
      close(0);
      height = Math.max(height, y);
    });
    const width = NODE.pad * 2 + Math.max(0, columns.length - 1) * column + NODE.w + 2 * inset;
    return { nodes: [...nodes.values()], edges, boxes, h, width, height: height + NODE.pad };
  }

  function clip(text, max) {
    return text.length > max ? `${text.slice(0, max - 1)}…` : text;
  }

  function nodeDetail(node) {
    if (node.big) {
      const { counts } = groupState(node.steps);
      return ORDER.filter((s) => counts[s]).map((s) => `${counts[s]} ${s}`).join(" · ");
    }
    const step = node.steps[0];
    const parts = [step.state];
    if (step.attempt > 1 || step.state === "retryable") {
      parts.push(`attempt ${step.attempt}/${step.max_attempts}`);
    }
    if (step.run_ms !== null && step.run_ms !== undefined) parts.push(duration(step.run_ms));
    return parts.join(" · ");
  }

  function drawNode(node, h) {
    const state = node.big ? groupState(node.steps).state : node.steps[0].state;
    const attrs = {
      class: `node state-${stateClass(state)}${node.big ? " big" : ""}`,
      transform: `translate(${node.x},${node.y})`,
      tabindex: 0,
      "data-state": state,
    };
    attrs[node.big ? "data-group" : "data-step"] = node.name;
    const label = node.big ? `${last(node.name)} ×${node.steps.length}` : last(node.name);
    const model = node.big ? null : node.steps[0].model;
    const title = `${node.big ? `${node.name} ×${node.steps.length}` : node.name}: ${nodeDetail(node)}`;
    const group = svg("g", attrs,
      svg("title", {}, model ? `${title} · model ${model}` : title),
      svg("rect", { width: NODE.w, height: h, rx: 8 }),
      svg("text", { class: "label", x: 10, y: 19 }, clip(label, 24)),
      svg("text", { class: "detail", x: 10, y: 36 }, clip(nodeDetail(node), 30)),
      model ? svg("text", { class: "model", x: 10, y: 50 }, clip(`model: ${model}`, 30)) : null);
    if (node.big) {
      const { counts } = groupState(node.steps);
      let x = 0;
      for (const name of ORDER.filter((s) => counts[s])) {
        const w = (NODE.w * counts[name]) / node.steps.length;
        group.append(svg("rect", { class: `bar state-${name}`, x, y: h - 5, width: w, height: 5 }));
        x += w;
      }
    }
    group.addEventListener("click", () => focusStep(node.steps[0].name));
    group.addEventListener("keydown", (e) => { if (e.key === "Enter") focusStep(node.steps[0].name); });
    return group;
  }

  function drawGraph(data) {
    const target = document.getElementById("dag");
    if (!target) return;
    const plan = layout(data);
    if (plan.nodes.length > MAX_NODES) {
      target.replaceChildren(el("p", { class: "muted note" },
        `The graph of ${plan.nodes.length} nodes is too large to draw; every step is listed below.`));
      return;
    }
    const root = svg("svg", { width: plan.width, height: plan.height,
      viewBox: `0 0 ${plan.width} ${plan.height}`, class: "dag-svg" },
    svg("defs", {}, svg("marker", { id: "arrow", viewBox: "0 0 10 10", refX: 9, refY: 5,
      markerWidth: 7, markerHeight: 7, orient: "auto-start-reverse" },
    svg("path", { d: "M 0 0 L 10 5 L 0 10 z", class: "arrow" }))));
    for (const box of plan.boxes) { // outer boxes come first, so inner ones are drawn on top
      const attrs = box.kind === "group" ? { class: "group", "data-group": box.name }
        : { class: `namespace${box.added ? " added" : ""}`, "data-namespace": box.name };
      root.append(svg("g", attrs,
        svg("title", {}, box.kind === "group" ? `group ${box.name}` : box.name),
        svg("rect", { x: box.x, y: box.top, width: box.width, height: box.bottom - box.top, rx: 10 }),
        svg("text", { x: box.x + 8, y: box.top + 14 }, clip(box.label, Math.floor(box.width / 7)))));
    }
    for (const [from, to] of plan.edges) {
      const x1 = from.x + NODE.w;
      const y1 = from.y + plan.h / 2;
      const x2 = to.x - 2;
      const y2 = to.y + plan.h / 2;
      const mid = (x1 + x2) / 2;
      const done = from.steps.every((s) => s.state === "completed");
      root.append(svg("path", { class: `edge${done ? " done" : ""}`, "marker-end": "url(#arrow)",
        d: `M ${x1} ${y1} C ${mid} ${y1}, ${mid} ${y2}, ${x2} ${y2}` }));
    }
    for (const node of plan.nodes) root.append(drawNode(node, plan.h));
    target.replaceChildren(root);
  }

  function focusStep(name) {
    const row = document.querySelector(`#steps tr[data-step="${CSS.escape(name)}"]`);
    if (!row) return;
    row.scrollIntoView({ behavior: "smooth", block: "center" });
    row.classList.remove("flash");
    void row.offsetWidth; // restart the animation
    row.classList.add("flash");
  }

  // --- the workflow page: table, header, actions --------------------------------------------

  function resultCell(step) {
    if (step.result_loading) return el("span", { class: "muted" }, "…");
    if (step.result_preview === null || step.result_preview === undefined) {
      return step.result_stored ? el("span", { class: "muted" }, "no value") : "";
    }
    return el("code", { class: "result" }, step.result_preview + (step.result_truncated ? "…" : ""));
  }

  function errorSummary(error) { // the line naming the exception, else the last line
    const lines = error.trim().split("\n").filter((line) => line.trim());
    const named = lines.filter((line) => /^[A-Za-z_][\w.]*: /.test(line));
    return ((named.length ? named : lines).pop() || "").slice(0, 120);
  }

  function errorCell(step) {
    if (!step.error) return "";
    return el("details", { class: "error" },
      el("summary", {}, errorSummary(step.error)),
      el("pre", {}, step.error));
  }

  function stepName(name) { // the namespace muted: "research/" of "research/fetch"
    const cut = name.lastIndexOf("/") + 1;
    return el("span", { class: "step-name" },
      cut ? el("span", { class: "ns" }, name.slice(0, cut)) : "", name.slice(cut));
  }

  // --- captured calls: a step's, loaded when its panel opens, kept open across redraws -----

  const openCalls = new Map(); // step name -> its calls; null while they load

  function callBlock(call) {
    const head = [`attempt ${call.attempt}`, `#${call.seq + 1}`, time(call.captured_at),
      `${call.bytes.toLocaleString()} bytes`, call.truncated ? "truncated" : ""];
    if (call.kind === "stream") { // the text the attempt streamed, not a request/response
      const out = call.response || {};
      const cut = out.omitted_chars ? `\n… ${out.omitted_chars.toLocaleString()} more chars not kept` : "";
      return el("div", { class: "call stream" },
        el("div", { class: "sub" }, ["streamed output", ...head].filter(Boolean).join(" · ")),
        el("pre", { class: "call-json" }, `${out.baton_stream || ""}${cut}`));
    }
    return el("div", { class: "call" },
      el("div", { class: "sub" }, head.filter(Boolean).join(" · ")),
      el("pre", { class: "call-json" }, `request: ${JSON.stringify(call.request, null, 2)}`),
      el("pre", { class: "call-json" }, `response: ${JSON.stringify(call.response, null, 2)}`));
  }

  function fillCalls(details) {
    const loaded = openCalls.get(details.dataset.calls);
    details.replaceChildren(details.querySelector("summary"),
      ...(loaded ? loaded.map(callBlock) : [el("span", { class: "muted" }, "…")]));
  }

  async function toggleCalls(details) {
    const name = details.dataset.calls;
    if (!details.open) {
      openCalls.delete(name);
      return;
    }
    if (openCalls.has(name)) {
      fillCalls(details);
      return;
    }
    openCalls.set(name, null);
    fillCalls(details);
    const url = `${base}/api/workflows/${encodeURIComponent(body.dataset.workflow)}/calls`;
    let found = [];
    try {
      const response = await fetch(`${url}?step=${encodeURIComponent(name)}`,
        { credentials: "same-origin", headers: { Accept: "application/json" } });
      if (response.ok) found = await response.json();
    } catch (error) {
      found = [];
    }
    if (!openCalls.has(name)) return; // closed meanwhile
    openCalls.set(name, found);
    const shown = document.querySelector(`details[data-calls="${CSS.escape(name)}"]`);
    if (shown) fillCalls(shown);
  }

  document.addEventListener("toggle", (event) => { // toggle does not bubble: captured
    const target = event.target;
    if (target instanceof HTMLDetailsElement && target.dataset.calls !== undefined) {
      toggleCalls(target);
    }
  }, true);

  function callsCell(step) {
    if (!step.calls) return "";
    const details = el("details", { class: "sub calls", "data-calls": step.name,
      open: openCalls.has(step.name) },
    el("summary", {}, `${step.calls} captured ${step.calls === 1 ? "call" : "calls"}`));
    if (openCalls.has(step.name)) fillCalls(details);
    return details;
  }

  function stepRow(step) {
    return el("tr", { "data-step": step.name },
      el("td", {}, stepName(step.name),
        el("div", { class: "sub" }, step.worker),
        el("div", { class: "sub queue" }, `queue ${step.queue || "—"}`),
        step.model ? el("div", { class: "sub model" }, `model ${step.model}`) : "",
        step.group !== null ? el("div", { class: "sub" }, `group ${step.group}`) : "",
        callsCell(step)),
      el("td", {}, badge(step.state)),
      el("td", { class: "num" }, step.attempt === null ? "" : `${step.attempt} / ${step.max_attempts}`),
      el("td", { class: "num" }, duration(step.wait_ms)),
      el("td", { class: "num" }, duration(step.run_ms)),
      el("td", {}, usageText(step.usage)),
      el("td", {}, resultCell(step)),
      el("td", {}, errorCell(step)));
  }

  function startWorkflow() {
    const id = body.dataset.workflow;
    const path = `${base}/api/workflows/${encodeURIComponent(id)}`;
    const tbody = document.querySelector("#steps tbody");
    const cancelButton = document.getElementById("cancel");
    const retryButton = document.getElementById("retry");
    const message = document.getElementById("action-message");
    let current = null;
    const byName = new Map();
    let fresh = new Set(); // steps just added at run time: flashed once the snapshot has them

    function header() {
      const settled = current.steps.filter((s) => SETTLED.has(s.state)).length;
      document.getElementById("wf-name").textContent = current.name || current.id;
      document.getElementById("wf-state").replaceWith(
        Object.assign(badge(current.state), { id: "wf-state" }));
      document.getElementById("wf-progress").textContent =
        `${settled} / ${current.steps.length} steps settled`
        + (current.reason ? ` · reason: ${current.reason}` : "");
      document.getElementById("wf-duration").replaceChildren(
        since(current.inserted_at, current.duration_ms, current.state === "running"));
      const total = current.usage;
      const spent = usageText({ ...total, model: null });
      const unpriced = total.cost_usd === null && total.unpriced_steps.length > 0;
      document.getElementById("wf-usage").textContent =
        unpriced ? [spent, "unpriced"].filter(Boolean).join(" · ") : spent;
      document.getElementById("wf-unserved").replaceChildren(
        ...Object.entries(current.unserved_queues).map(([queue, names]) =>
          el("p", { class: "unserved", role: "alert" }, "No running node serves queue ",
            el("code", {}, queue), `, which steps ${names.join(", ")} wait for: start one with `,
            el("code", {}, `baton start --queues ${queue}:10`), " (or unpause it).")));
      document.getElementById("wf-flow").textContent = current.flow || ""; // deadline, key
      signalForms();
      cancelButton.disabled = current.state !== "running";
      retryButton.disabled = !current.steps.some((s) => FAILED.has(s.state));
      body.dataset.state = current.state;
    }

    // signals: one approve form per step waiting for a signal, kept while it waits (a
    // redraw must not wipe a payload being typed)
    let waitingKey = null;
    function signalForms() {
      const waiting = current.steps.filter((s) => s.state === "awaiting_signal");
      const key = waiting.map((s) => s.name).join("\n");
      if (key === waitingKey) return;
      waitingKey = key;
      document.getElementById("wf-signals").replaceChildren(...waiting.map((step) => {
        const text = el("textarea", { name: "payload", "aria-label": `payload for ${step.name}` });
        text.value = "{\"approved\": true}";
        const note = el("span", { class: "signal-message", role: "status" });
        const button = el("button", { type: "submit" }, "Approve");
        const form = el("form", { class: "signal", "data-step": step.name },
          el("label", {}, "Step ", el("code", {}, step.name), " waits for a signal. Payload (JSON):"),
          text, button, note);
        form.addEventListener("submit", async (event) => {
          event.preventDefault();
          button.disabled = true;
          note.textContent = "Sending…";
          try {
            const response = await fetch(`${path}/signal?step=${encodeURIComponent(step.name)}`, {
              method: "POST",
              credentials: "same-origin",
              headers: { "X-Baton-CSRF": csrf, Accept: "application/json",
                "Content-Type": "application/json" },
              body: text.value,
            });
            const reply = await response.json().catch(() => ({}));
            note.textContent = response.ok ? "Signalled." : reply.error || `Failed (HTTP ${response.status})`;
          } catch (error) {
            note.textContent = `Request failed: ${error}`;
          }
          button.disabled = false;
        });
        return form;
      }));
    }

    function render() {
      byName.clear();
      for (const step of current.steps) byName.set(step.name, step);
      header();
      drawGraph(current);
      tbody.replaceChildren(...current.steps.map(stepRow));
      for (const name of fresh) {
        const row = tbody.querySelector(`tr[data-step="${CSS.escape(name)}"]`);
        if (row) row.classList.add("flash");
      }
      fresh = new Set([...fresh].filter((name) => !byName.has(name)));
    }

    function applyStep(event) {
      const step = current && byName.get(event.step);
      if (!step) return;
      if (event.state === "signalled") { // stored; the step runs now if it waited
        if (step.state === "awaiting_signal") step.state = "available";
      } else {
        step.state = event.state === "snoozed" ? "scheduled" : event.state;
      }
      step.attempt = event.attempt;
      if (event.state === "executing") delete current.unserved_queues[step.queue]; // served now
      if (event.error) step.error = event.error;
      if (event.state === "completed") {
        step.result_stored = event.result_stored;
        step.result_loading = event.result_stored; // the next snapshot brings the preview
      }
      const row = tbody.querySelector(`tr[data-step="${CSS.escape(step.name)}"]`);
      if (row) row.replaceWith(stepRow(step));
      header();
      redraw();
    }

    let drawing = false;
    function redraw() { // at most once a frame, however fast events come
      if (drawing) return;
      drawing = true;
      requestAnimationFrame(() => {
        drawing = false;
        drawGraph(current);
      });
    }

    async function act(kind, button) {
      if (kind === "cancel" && !window.confirm("Cancel every unfinished step of this workflow?")) {
        return;
      }
      button.disabled = true;
      message.textContent = kind === "cancel" ? "Cancelling…" : "Retrying…";
      try {
        const response = await fetch(`${path}/${kind}`, {
          method: "POST",
          credentials: "same-origin",
          headers: { "X-Baton-CSRF": csrf, Accept: "application/json" },
        });
        const reply = await response.json().catch(() => ({}));
        if (!response.ok) {
          message.textContent = reply.error || `Failed (HTTP ${response.status})`;
        } else if (kind === "cancel") {
          message.textContent = `Cancelled ${reply.cancelled_jobs} job(s).`;
        } else {
          message.textContent = reply.retried_steps.length
            ? `Retrying ${reply.retried_steps.join(", ")}.` : "Nothing to retry.";
        }
      } catch (error) {
        message.textContent = `Request failed: ${error}`;
      }
      if (current) header();
    }

    // Streamed output (baton.stream): live only, the last OUTPUT_CHARS characters per step.
    const OUTPUT_CHARS = 20000;
    function showOutput(event) {
      const section = document.getElementById("output-section");
      const box = document.getElementById("output");
      if (!section || !box) return;
      section.hidden = false;
      let pre = [...box.querySelectorAll("pre")].find((node) => node.dataset.step === event.step);
      if (!pre) {
        pre = el("pre", { "data-step": event.step });
        box.append(el("h3", {}, event.step), pre);
      }
      const text = pre.textContent + (event.skipped ? "…" : "") + event.text;
      pre.textContent = text.slice(-OUTPUT_CHARS);
    }

    cancelButton.addEventListener("click", () => act("cancel", cancelButton));
    retryButton.addEventListener("click", () => act("retry", retryButton));
    connect(`${path}/events`, {
      snapshot(data) {
        current = data;
        render();
      },
      step: applyStep,
      output: showOutput,
      added(event) { // a snapshot with the new steps follows at once
        for (const name of event.steps) fresh.add(name);
      },
      gone(event) {
        setLive("closed", "workflow deleted");
        message.textContent = event.error;
        return false;
      },
      finished(event) {
        if (!current) return;
        current.state = event.outcome;
        current.reason = event.reason || null;
        current.finished_at = event.at;
        current.unserved_queues = {}; // nothing waits any more
        current.duration_ms = event.duration_ms;
        header();
      },
    });
  }

  setInterval(tick, 1000);
  if (body.dataset.page === "list") startList();
  if (body.dataset.page === "workflow") startWorkflow();
})();

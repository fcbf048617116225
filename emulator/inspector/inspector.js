// The inspector page: reads the control API's JSON views and shows them. No framework, no build
// step. Everything that comes from a request or a fixture is inserted as text (textContent),
// never as HTML. A panel is one registerPanel({...}) call; optional ones name a server feature.
"use strict";

(function () {
  const PREFIX = "/_emulator";
  const ROWS_SHOWN = 200; // journal rows rendered at once (more on "Show more")
  const COLLAPSE_FROM = 20000; // bodies larger than this (characters) stay collapsed until opened
  const TOKEN_KEY = "paradigm-emulator-admin-token";
  const SPACE_KEY = "paradigm-emulator-space-key"; // an API key: the page then shows its space alone
  const state = { info: null, panels: [], active: null, shown: [] };

  // -- DOM helpers: text only ------------------------------------------------------------------
  function el(tag, props, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(props || {})) {
      if (value === undefined || value === null || value === false) continue;
      if (key === "className") node.className = value;
      else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
      else node.setAttribute(key, value === true ? "" : String(value));
    }
    for (const child of children.flat()) {
      if (child === null || child === undefined || child === false) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }
  function clear(node) { while (node.firstChild) node.removeChild(node.firstChild); }
  function message(text) { document.getElementById("message").textContent = text || ""; }
  function pretty(value) {
    if (typeof value === "string") {
      try { return JSON.stringify(JSON.parse(value), null, 2); } catch (e) { return value; }
    }
    return JSON.stringify(value, null, 2);
  }
  // A body shown pretty-printed; a large one collapsed, and only formatted when opened.
  function body(value) {
    const raw = typeof value === "string" ? value : JSON.stringify(value);
    if (raw === undefined) return el("pre", {}, "(none)");
    if (raw.length < COLLAPSE_FROM) return el("pre", { className: "body" }, pretty(value));
    const details = el("details", {}, el("summary", {}, `Show body (${raw.length.toLocaleString()} characters)`));
    details.addEventListener("toggle", () => {
      if (details.open && details.children.length === 1) details.append(el("pre", { className: "body" }, pretty(value)));
    }, { once: false });
    return details;
  }
  function statusClass(status) { return "s" + String(status)[0]; }
  function sourceOf(entry) { return entry.source || (entry.fixture ? "fixture" : "generated"); }
  function table(headers, rows) {
    return el("table", {}, el("thead", {}, el("tr", {}, headers.map((h) => el("th", {}, h)))),
      el("tbody", {}, rows));
  }
  function bar(fraction) {
    const inner = el("span", {});
    inner.style.width = Math.round(Math.max(0, Math.min(1, fraction)) * 100) + "%";
    return el("span", { className: "bar", role: "progressbar", "aria-valuenow": Math.round(fraction * 100),
      "aria-valuemin": 0, "aria-valuemax": 100 }, inner);
  }

  // -- the control API -------------------------------------------------------------------------
  function headers(extra) {
    const result = Object.assign({}, extra || {});
    const token = sessionStorage.getItem(TOKEN_KEY), key = sessionStorage.getItem(SPACE_KEY);
    if (token) result["X-Emulator-Admin-Token"] = token;
    else if (key) result["X-Emulator-Api-Key"] = key;
    return result;
  }
  async function api(path, options) {
    const opts = Object.assign({}, options || {});
    opts.headers = headers(opts.headers);
    const response = await fetch(PREFIX + path, opts);
    if (response.status === 401 || response.status === 403) {
      askToken(sessionStorage.getItem(SPACE_KEY) ? "The API key was refused: give it again." : "The admin token was refused: give it again.");
      throw new Error("admin token needed");
    }
    const data = await response.json();
    if (!response.ok) throw new Error((data && data.detail) || `${response.status} from ${path}`);
    return data;
  }
  function askToken(problem) {
    const form = document.getElementById("token-form");
    form.hidden = false;
    document.getElementById("token-error").textContent = problem || "";
    document.getElementById("token").focus();
  }

  // The journal's live stream, read with fetch (EventSource cannot send the admin token).
  async function follow(after, onEntries, onCleared, onLive) {
    let cursor = after;
    for (;;) {
      try {
        const response = await fetch(`${PREFIX}/journal/events?after=${cursor}`, { headers: headers() });
        if (!response.ok) throw new Error(`${response.status}`);
        onLive(true);
        const reader = response.body.getReader();
        const decoder = new TextDecoder();
        let buffer = "";
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buffer += decoder.decode(value, { stream: true });
          let end;
          const batch = [];
          while ((end = buffer.indexOf("\n\n")) >= 0) {
            const block = buffer.slice(0, end);
            buffer = buffer.slice(end + 2);
            let event = "message", data = "";
            for (const line of block.split("\n")) {
              if (line.startsWith("event: ")) event = line.slice(7);
              else if (line.startsWith("data: ")) data += line.slice(6);
            }
            if (event === "entry") {
              const entry = JSON.parse(data);
              cursor = entry.seq;
              batch.push(entry);
            } else if (event === "cleared") {
              if (batch.length) { onEntries(batch.splice(0)); }
              cursor = 0;
              onCleared();
            }
          }
          if (batch.length) onEntries(batch);
        }
      } catch (e) { /* the server went away or restarted: try again */ }
      onLive(false);
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
  }

  // -- panels ------------------------------------------------------------------------------------
  // A panel: {id, title, feature?, mount(container), show()?, onEntries(entries)?, onCleared()?}.
  function registerPanel(panel) { state.panels.push(panel); }

  function activate(id) {
    state.active = id;
    for (const panel of state.panels) {
      if (!panel.tab) continue;
      const on = panel.id === id;
      panel.tab.setAttribute("aria-selected", on ? "true" : "false");
      panel.tab.tabIndex = on ? 0 : -1;
      panel.container.hidden = !on;
      if (on && panel.show) panel.show();
    }
    history.replaceState(null, "", "#" + id);
  }

  // -- journal -----------------------------------------------------------------------------------
  function journalPanel() {
    const entries = []; // oldest first
    const seen = new Set();
    let shown = ROWS_SHOWN, selected = null;
    const operations = new Set();
    const text = el("input", { type: "search", placeholder: "Filter: path, model, fixture, body... ( / )",
      "aria-label": "Filter the journal by text" });
    const operation = el("select", { "aria-label": "Filter by operation" }, el("option", { value: "" }, "every operation"));
    const status = el("select", { "aria-label": "Filter by status" },
      ["", "2", "3", "4", "5"].map((c) => el("option", { value: c }, c ? `${c}xx` : "every status")));
    const source = el("select", { "aria-label": "Filter by source" },
      ["", "fixture", "generated", "upstream", "recording"].map((c) => el("option", { value: c }, c || "every source")));
    const space = el("select", { "aria-label": "Filter by space" }, el("option", { value: "" }, "every space"));
    const companies = new Set();
    const count = el("span", { className: "count" });
    const tbody = el("tbody", { id: "journal-rows" });
    const scroller = el("div", { className: "scroller", id: "journal" },
      el("table", {}, el("colgroup", {}, [5, 6, 28, 6, 16, 14, 8, 13, 8].map((w) => { const c = el("col"); c.style.width = w + "%"; return c; })),
        el("thead", {}, el("tr", {}, ["#", "method", "path", "status", "operation", "model", "ms", "answered by", "ended"].map((h) => el("th", {}, h)))),
        tbody));
    const more = el("button", { type: "button", hidden: true, onclick: () => { shown += ROWS_SHOWN; render(); } }, "Show more");
    const detail = el("section", { className: "detail", id: "entry", hidden: true, "aria-live": "polite" });

    function haystack(entry) {
      if (entry._text === undefined) {
        entry._text = [entry.method, entry.path, entry.operation_id, entry.fixture || "", sourceOf(entry), entry.status,
          model(entry), JSON.stringify(entry.body)].join(" ").toLowerCase();
      }
      return entry._text;
    }
    // Where an answer came from: the upstream, a recording (and which), a fixture, or generated.
    function answeredBy(entry) {
      const source = sourceOf(entry);
      const text = source === "recording" ? `recording ${entry.fixture || ""}`.trim()
        : source === "fixture" ? entry.fixture : source;
      return el("td", { className: "source-" + source, title: text }, text);
    }
    function model(entry) { return entry.body && typeof entry.body === "object" && entry.body.model ? String(entry.body.model) : ""; }
    function matches(entry) {
      const needle = text.value.trim().toLowerCase();
      return (!operation.value || entry.operation_id === operation.value)
        && (!status.value || String(entry.status)[0] === status.value)
        && (!source.value || sourceOf(entry) === source.value)
        && (!space.value || String(entry.company) === space.value)
        && (!needle || haystack(entry).includes(needle));
    }
    function row(entry) {
      const tr = el("tr", { tabindex: 0, "data-seq": entry.seq, "aria-selected": selected === entry.seq ? "true" : "false" },
        el("td", { className: "num" }, entry.seq), el("td", {}, entry.method), el("td", { title: entry.path }, entry.path),
        el("td", { className: statusClass(entry.status) }, entry.status), el("td", {}, entry.operation_id),
        el("td", {}, model(entry)), el("td", { className: "num" }, Math.round(entry.duration_ms)),
        answeredBy(entry), el("td", { className: "outcome-" + entry.outcome }, entry.outcome));
      tr.addEventListener("click", () => open(entry));
      return tr;
    }
    function render() {
      const rows = [];
      let total = 0;
      for (let i = entries.length - 1; i >= 0; i--) {
        if (!matches(entries[i])) continue;
        total++;
        if (rows.length < shown) rows.push(row(entries[i]));
      }
      clear(tbody);
      tbody.append(...rows);
      count.textContent = `${total.toLocaleString()} of ${entries.length.toLocaleString()} requests`;
      more.hidden = total <= shown;
    }
    function open(entry) {
      selected = entry.seq;
      for (const tr of tbody.children) tr.setAttribute("aria-selected", tr.dataset.seq === String(entry.seq) ? "true" : "false");
      clear(detail);
      detail.hidden = false;
      const response = entry.response || {};
      detail.append(
        el("h2", {}, `#${entry.seq} ${entry.method} ${entry.path} → ${entry.status}`),
        el("table", {}, el("tbody", {}, [
          ["operation", entry.operation_id], ["answered by", entry.fixture || "generated (no fixture matched)"],
          ["source", sourceOf(entry)],
          ["space", entry.company === null || entry.company === undefined ? "(no key)" : `company ${entry.company}, user ${entry.user}`],
          ["duration", `${entry.duration_ms} ms`], ["ended", entry.outcome],
          ["query", JSON.stringify(entry.query)],
        ].map(([k, v]) => el("tr", {}, el("td", {}, k), el("td", {}, v))))));
      detail.lastChild.className = "kv";
      const near = nearMisses(response.body);
      if (near) detail.append(el("h3", {}, "No fixture matched: the nearest ones"), near);
      detail.append(el("h3", {}, "Request headers"), body(entry.headers), el("h3", {}, "Request body"), body(entry.body));
      if (response.chunks) {
        detail.append(el("h3", {}, `Response: ${response.chunks.length} chunks${response.cut ? " " + response.cut : ""}`),
          el("div", { className: "scroller" }, table(["ms", "chunk"], response.chunks.map(([ms, chunk]) =>
            el("tr", { className: "chunk" }, el("td", { className: "num" }, ms.toFixed(1)), el("td", { title: chunk }, chunk.trim()))))));
        const first = el("col");
        first.style.width = "6em";
        detail.lastChild.firstChild.firstChild.before(el("colgroup", {}, first, el("col")));
      } else if ("body" in response) {
        detail.append(el("h3", {}, "Response body"), body(response.body));
      } else {
        detail.append(el("p", { className: "muted" }, "No response body was recorded for this entry."));
      }
    }
    function nearMisses(responseBody) {
      const detailText = responseBody && typeof responseBody === "object" ? (responseBody.detail || (responseBody.error && responseBody.error.message)) : null;
      if (typeof detailText !== "string" || !detailText.includes("Closest fixtures:")) return null;
      const [head, rest] = detailText.split("Closest fixtures:");
      const items = rest.split(/\s(?=\d+\. ')/).map((s) => s.trim()).filter(Boolean);
      return el("div", { className: "near" }, el("p", {}, head.trim()), el("ol", {}, items.map((s) => el("li", {}, s.replace(/^\d+\.\s*/, "")))));
    }
    function add(batch) {
      const before = scroller.scrollTop;
      let added = 0, unordered = false;
      for (const entry of batch) {
        if (seen.has(entry.seq)) continue;
        seen.add(entry.seq);
        entries.push(entry);
        if (entries.length > 1 && entry.seq < entries[entries.length - 2].seq) unordered = true;
        if (!operations.has(entry.operation_id)) {
          operations.add(entry.operation_id);
          operation.append(el("option", { value: entry.operation_id }, entry.operation_id));
        }
        if (entry.company !== null && entry.company !== undefined && !companies.has(entry.company)) {
          companies.add(entry.company);
          space.append(el("option", { value: String(entry.company) }, `company ${entry.company}`));
          if (companies.size > 1) reveal("spaces"); // several keys share the emulator
        }
        if (matches(entry)) added++;
      }
      if (unordered) entries.sort((a, b) => a.seq - b.seq); // an older page arrived: one sort
      render();
      // No jump: a reader scrolled down keeps the rows they were reading in place.
      if (before > 0 && added) scroller.scrollTop = before + added * (tbody.firstChild ? tbody.firstChild.offsetHeight : 26);
    }
    function reset() { entries.length = 0; seen.clear(); selected = null; detail.hidden = true; render(); }
    function keys(event) {
      const tr = event.target.closest("tr[data-seq]");
      if (!tr) return;
      if (event.key === "Enter" || event.key === " ") {
        event.preventDefault();
        const entry = entries.find((e) => String(e.seq) === tr.dataset.seq);
        if (entry) open(entry);
      } else if (event.key === "ArrowDown" || event.key === "j") {
        event.preventDefault(); if (tr.nextElementSibling) tr.nextElementSibling.focus();
      } else if (event.key === "ArrowUp" || event.key === "k") {
        event.preventDefault(); if (tr.previousElementSibling) tr.previousElementSibling.focus();
      }
    }
    return {
      id: "journal", title: "Journal",
      mount(container) {
        let timer = null;
        text.addEventListener("input", () => { clearTimeout(timer); timer = setTimeout(() => { shown = ROWS_SHOWN; render(); }, 120); });
        for (const select of [operation, status, source, space]) select.addEventListener("change", () => { shown = ROWS_SHOWN; render(); });
        tbody.addEventListener("keydown", keys);
        document.addEventListener("keydown", (event) => {
          if (event.key === "/" && document.activeElement.tagName !== "INPUT") { event.preventDefault(); activate("journal"); text.focus(); }
          if (event.key === "Escape") detail.hidden = true;
        });
        container.append(el("div", { className: "filters" }, text, operation, status, source, space, count), scroller, more, detail);
        render();
      },
      onEntries: add, onCleared: reset,
      // The journal of one company (the Spaces panel's rows open it).
      showSpace(company) {
        if (![...space.options].some((o) => o.value === String(company))) {
          space.append(el("option", { value: String(company) }, `company ${company}`));
        }
        space.value = String(company); shown = ROWS_SHOWN; render(); activate("journal"); space.focus();
      },
      async load() {
        // Newest first, a page at a time: the first page is shown at once, older ones follow.
        const first = await api("/journal?limit=500");
        add(first.requests);
        const newest = first.requests.length ? first.requests[0].seq : 0;
        (async () => {
          let page = first.requests, asked = 500;
          while (page.length === asked) {
            asked = 2000;
            page = (await api(`/journal?limit=${asked}&before=${page[page.length - 1].seq}`)).requests;
            add(page);
          }
        })().catch((e) => message(e.message));
        return newest;
      },
    };
  }

  // -- fixtures ----------------------------------------------------------------------------------
  function fixturesPanel() {
    let container, pending = null;
    async function refresh() {
      const { fixtures } = await api("/fixtures");
      clear(container);
      container.append(el("p", { className: "count" }, `${fixtures.length} fixtures, in matching order`),
        el("div", { className: "scroller" }, table(["#", "name", "source", "priority", "match", "times", "uses", "left", "sequence"],
          fixtures.map((f, i) => {
            const steps = Array.isArray(f.responses) ? f.responses.length : 1;
            const left = f.times === null || f.times === undefined ? "∞" : Math.max(0, f.times - f.uses);
            return el("tr", { tabindex: 0, "data-name": f.name },
              el("td", { className: "num" }, i + 1), el("td", { title: f.name }, f.name), el("td", { title: f.source }, f.source),
              el("td", { className: "num" }, f.priority), el("td", { title: JSON.stringify(f.match || {}) }, JSON.stringify(f.match || {})),
              el("td", { className: "num" }, f.times === null || f.times === undefined ? "∞" : f.times),
              el("td", { className: "num uses" }, f.uses), el("td", { className: "num left" }, left),
              el("td", { className: "num" }, steps > 1 ? `${Math.min(f.uses + 1, steps)} of ${steps}` : "-"));
          }))));
    }
    return {
      id: "fixtures", title: "Fixtures",
      mount(c) { container = c; },
      show() { refresh().catch((e) => message(e.message)); },
      onEntries() {
        if (state.active !== "fixtures" || pending) return;
        pending = setTimeout(() => { pending = null; refresh().catch((e) => message(e.message)); }, 150);
      },
      onCleared() { if (state.active === "fixtures") refresh().catch((e) => message(e.message)); },
    };
  }

  // -- files -------------------------------------------------------------------------------------
  function filesPanel() {
    let container, list, detail, poll = null;
    async function refresh() {
      const { files } = await api("/files");
      clear(list);
      list.append(el("p", { className: "count" }, `${files.length} files`),
        el("div", { className: "scroller" }, table(["id", "name", "workspace", "status", "size", "pages", "chunks"],
          files.map((f) => {
            const tr = el("tr", { tabindex: 0, "data-id": f.id },
              el("td", { className: "num" }, f.id), el("td", { title: f.filename }, f.filename),
              el("td", { className: "num" }, f.workspace_id),
              el("td", { className: "status" }, bar(f.progress), f.status, f.failure ? ` (${f.failure})` : ""),
              el("td", { className: "num" }, f.size.toLocaleString()), el("td", { className: "num" }, f.total_pages),
              el("td", { className: "num" }, f.chunk_count));
            tr.addEventListener("click", () => open(f.id));
            tr.addEventListener("keydown", (e) => { if (e.key === "Enter") open(f.id); });
            return tr;
          }))));
      const busy = files.some((f) => f.status === "pending" || f.status === "parsing");
      clearTimeout(poll);
      if (busy && state.active === "files") poll = setTimeout(() => refresh().catch((e) => message(e.message)), 400);
    }
    async function open(id) {
      const file = await api(`/files/${id}`);
      clear(detail);
      detail.hidden = false;
      detail.append(el("h2", {}, `file ${file.id}: ${file.filename}`), el("p", {}, `${file.status}, ${file.total_pages} pages, ${file.chunk_count} chunks`),
        ...file.pages.map((page, i) => el("details", { open: i === 0 && page.length < COLLAPSE_FROM }, el("summary", {}, `page ${i + 1} (${page.length} characters)`), el("pre", {}, page))));
    }
    return {
      id: "files", title: "Files",
      mount(c) { container = c; list = el("div"); detail = el("section", { className: "detail", hidden: true }); container.append(list, detail); },
      show() { refresh().catch((e) => message(e.message)); },
      onEntries(batch) { if (state.active === "files" && batch.some((e) => e.path.includes("file"))) refresh().catch((e) => message(e.message)); },
      onCleared() { if (state.active === "files") refresh().catch((e) => message(e.message)); },
    };
  }

  // -- threads -----------------------------------------------------------------------------------
  function threadsPanel() {
    let container, poll = null;
    function part(p) {
      if (p.type === "text") return el("pre", {}, p.text);
      if (p.tool_call) {
        const call = p.tool_call;
        return el("div", {}, el("strong", {}, `tool call ${call.name || call.type || ""}`), body(call));
      }
      return body(p);
    }
    async function refresh() {
      const { threads } = await api("/threads");
      clear(container);
      container.append(el("p", { className: "count" }, `${threads.length} threads`));
      let running = false;
      for (const thread of threads) {
        const section = el("section", { className: "thread" }, el("h2", {}, `thread ${thread.id}`, el("span", { className: "muted" }, ` ${thread.name || ""} ${thread.agent_id ? "agent " + thread.agent_id : ""}`)));
        for (const turn of thread.turns) {
          if (turn.status === "running") running = true;
          const events = el("details", {}, el("summary", {}, `${turn.events_total} SSE events`),
            table(["ms", "event"], turn.events.map(([ms, type]) => el("tr", {}, el("td", { className: "num" }, ms), el("td", {}, type)))));
          section.append(el("div", { className: "turn " + turn.status, "data-turn": turn.id },
            el("div", {}, el("strong", {}, `turn ${turn.id} `), bar(turn.progress), turn.status),
            turn.messages.map((m) => el("div", {}, el("h3", {}, m.role), m.parts.map(part))),
            turn.sources.length ? [el("h3", {}, "sources"), body(turn.sources)] : null,
            turn.error ? el("p", { className: "error" }, JSON.stringify(turn.error)) : null, events));
        }
        container.append(section);
      }
      clearTimeout(poll);
      if (running && state.active === "threads") poll = setTimeout(() => refresh().catch((e) => message(e.message)), 300);
    }
    return {
      id: "threads", title: "Threads",
      mount(c) { container = c; },
      show() { refresh().catch((e) => message(e.message)); },
      onEntries(batch) { if (state.active === "threads" && batch.some((e) => e.path.includes("/threads"))) refresh().catch((e) => message(e.message)); },
      onCleared() { if (state.active === "threads") refresh().catch((e) => message(e.message)); },
    };
  }

  // -- spaces ------------------------------------------------------------------------------------
  // The test spaces (companies) and their users; a row opens the journal of its company.
  function spacesPanel() {
    let container, list, pending = null;
    const filter = el("input", { type: "text", id: "spaces-filter", placeholder: "Filter: space, company, user id or name",
      "aria-label": "Filter the spaces" });
    function rowsOf(spaces) {
      const needle = filter.value.trim().toLowerCase();
      const rows = [];
      for (const s of spaces) {
        const users = s.users.length ? s.users : [{ id: null, name: null, role: null, requests: 0, since_reset: 0, last_seq: null }];
        const company = s.company.name ? `${s.company.name} (${s.company.id})` : String(s.company.id);
        for (const u of users) {
          const who = u.id === null ? "-" : u.name ? `${u.name} (${u.id})` : `${u.id}`;
          const haystack = [s.space, company, who, u.email || "", u.role || ""].join(" ").toLowerCase();
          if (needle && !haystack.includes(needle)) continue;
          const tr = el("tr", { tabindex: 0, "data-space": s.space, "data-company": s.company.id, title: "Show this space's requests" },
            el("td", {}, s.space), el("td", { title: company }, company, s.declared ? "" : el("span", { className: "muted" }, " (a key's own)")),
            el("td", { title: who }, who), el("td", {}, u.role || ""), el("td", { className: "num" }, u.requests),
            el("td", { className: "num" }, u.since_reset), el("td", { className: "num" }, u.last_seq === null ? "" : u.last_seq));
          const open = () => { const journal = state.panels.find((p) => p.id === "journal"); journal.showSpace(s.company.id); };
          tr.addEventListener("click", open);
          tr.addEventListener("keydown", (e) => { if (e.key === "Enter") open(); });
          rows.push(tr);
        }
      }
      return rows;
    }
    let last = { spaces: [] };
    function render() {
      clear(list);
      const rows = rowsOf(last.spaces);
      const note = last.space ? `the space of your key, ${last.space}` : `${last.spaces.length} spaces`
        + (last.without_key ? `, and ${last.without_key} requests without a key` : "");
      list.append(el("p", { className: "count" }, note),
        el("div", { className: "scroller" }, table(["space", "company", "user", "role", "requests", "since its reset", "last #"], rows)));
    }
    async function refresh() { last = await api("/spaces"); render(); }
    return {
      id: "spaces", title: "Spaces", feature: "spaces", reveal: true,
      mount(c) {
        container = c; list = el("div", { id: "spaces" });
        let timer = null;
        filter.addEventListener("input", () => { clearTimeout(timer); timer = setTimeout(render, 120); });
        container.append(el("div", { className: "filters" }, filter), list);
      },
      show() { refresh().catch((e) => message(e.message)); },
      onEntries() {
        if (state.active !== "spaces" || pending) return;
        pending = setTimeout(() => { pending = null; refresh().catch((e) => message(e.message)); }, 300);
      },
      onCleared() { if (state.active === "spaces") refresh().catch((e) => message(e.message)); },
    };
  }

  // -- recordings and drift ----------------------------------------------------------------------
  function recordingsPanel() {
    let container, list, pending = null;
    const drift = el("section", { className: "detail", id: "drift", "aria-live": "polite" });
    function answers(responses) {
      return responses.map((r) => `${r.status}${r.stream ? ` stream of ${r.events} events` : ""}${r.cut ? " (cut)" : ""}`
        + (r.seq !== null ? ` #${r.seq}` : "")).join("; ");
    }
    async function refresh() {
      const data = await api("/recordings");
      clear(list);
      const where = [data.upstream ? `upstream ${data.upstream}` : null,
        data.folder ? `${data.recording ? "recording into" : "recordings in"} ${data.folder}` : null].filter(Boolean).join(" · ");
      list.append(el("p", { className: "count" }, `${data.recordings.length} recorded requests${data.more ? " (the first files only)" : ""}`,
        where ? ` · ${where}` : ""),
        data.problems.length ? el("ul", { className: "error" }, data.problems.map((p) => el("li", {}, p))) : null,
        el("div", { className: "scroller" }, table(["#", "file", "method", "path", "answers", "uses", "from"],
          data.recordings.map((r) => {
            const file = r.file.split("/").pop();
            return el("tr", { "data-file": file },
              el("td", { className: "num" }, r.first_seq === null ? "" : r.first_seq), el("td", { title: r.file }, file),
              el("td", {}, r.method), el("td", { title: r.path }, r.path), el("td", { title: answers(r.responses) }, answers(r.responses)),
              el("td", { className: "num" }, r.uses === null ? "" : r.uses), el("td", {}, r.origin));
          }))));
    }
    // A drift report (``paradigm-emulator drift DIR --json``), read in the browser, shown as a table.
    function showDrift(report, name) {
      const out = drift.querySelector(".drift-report");
      clear(out);
      if (!report || !Array.isArray(report.differences)) {
        out.append(el("p", { className: "error" }, `${name} is not a drift report (paradigm-emulator drift DIR --json): it has no "differences" list.`));
        return;
      }
      const operations = new Set(report.differences.map((d) => d.operation));
      out.append(el("p", { className: "count" }, `${report.differences.length} differences in ${operations.size} operations, `
        + `${report.exchanges} exchanges compared with ${report.target} (${name})`),
        el("div", { className: "scroller" }, table(["operation", "JSON path", "kind", "recorded shape", "emulator's shape", "recording"],
          report.differences.map((d) => el("tr", { className: "difference" }, el("td", { title: d.operation }, d.operation),
            el("td", { title: d.at }, d.at || "$"), el("td", {}, d.kind), el("td", { title: String(d.recorded) }, String(d.recorded)),
            el("td", { title: String(d.live) }, String(d.live)), el("td", { title: d.fixture }, `${d.fixture} #${d.seq}`))))));
    }
    function mountDrift() {
      const input = el("input", { type: "file", id: "drift-file", accept: ".json,application/json" });
      input.addEventListener("change", async () => {
        const file = input.files && input.files[0];
        if (!file) return;
        let report = null;
        try { report = JSON.parse(await file.text()); } catch (e) { report = null; }
        showDrift(report, file.name);
      });
      drift.append(el("h2", {}, "Drift report"),
        el("label", {}, "Open the output of ", el("code", {}, "paradigm-emulator drift DIR --json"), ": ", input),
        el("div", { className: "drift-report" }));
    }
    return {
      id: "recordings", title: "Recordings", feature: "recordings",
      mount(c) { container = c; list = el("div", { id: "recordings" }); mountDrift(); container.append(list, drift); },
      show() { refresh().catch((e) => message(e.message)); },
      onEntries(batch) {
        if (state.active !== "recordings" || pending || !batch.some((e) => e.source)) return;
        pending = setTimeout(() => { pending = null; refresh().catch((e) => message(e.message)); }, 300);
      },
    };
  }

  registerPanel(journalPanel());
  registerPanel(fixturesPanel());
  registerPanel(filesPanel());
  registerPanel(threadsPanel());
  // Shown only when /_emulator/info lists their feature (the spaces also once two companies call).
  registerPanel(spacesPanel());
  registerPanel(recordingsPanel());

  // A panel that shows itself once the data calls for it (its tab was made, hidden).
  function reveal(id) {
    const panel = state.shown.find((p) => p.id === id);
    if (panel && panel.tab.hidden) { panel.tab.hidden = false; if (state.active === id && panel.show) panel.show(); }
  }

  // -- start -------------------------------------------------------------------------------------
  async function start() {
    const info = await (await fetch(PREFIX + "/info")).json();
    state.info = info;
    const key = sessionStorage.getItem(SPACE_KEY);
    document.getElementById("version").textContent = `${info.version} · ${info.state}${info.strict ? " · strict" : ""}`
      + (key ? " · one space (by its key)" : "");
    document.getElementById("sign-out").hidden = !(sessionStorage.getItem(TOKEN_KEY) || key);
    if (info.admin_token && !sessionStorage.getItem(TOKEN_KEY) && !key) { askToken(""); return; }
    state.started = true;
    const tabs = document.getElementById("tabs"), main = document.getElementById("panels");
    clear(tabs); clear(main);
    const shown = state.shown = state.panels.filter((p) => !p.feature || p.reveal || info.features.includes(p.feature));
    for (const panel of shown) {
      panel.container = el("section", { id: "panel-" + panel.id, role: "tabpanel", hidden: true });
      panel.tab = el("button", { type: "button", role: "tab", id: "tab-" + panel.id, "aria-controls": "panel-" + panel.id,
        onclick: () => activate(panel.id) }, panel.title);
      panel.tab.hidden = Boolean(panel.feature) && !info.features.includes(panel.feature);
      panel.tab.addEventListener("keydown", (event) => {
        if (event.key === "ArrowRight" || event.key === "ArrowLeft") {
          const tabs = shown.filter((p) => !p.tab.hidden), i = tabs.indexOf(panel);
          const next = tabs[(i + (event.key === "ArrowRight" ? 1 : tabs.length - 1)) % tabs.length];
          activate(next.id); next.tab.focus();
        }
      });
      tabs.append(panel.tab);
      main.append(panel.container);
      panel.mount(panel.container);
    }
    const wanted = location.hash.slice(1);
    activate(shown.some((p) => p.id === wanted && !p.tab.hidden) ? wanted : "journal");
    const journal = state.panels[0];
    let after = 0;
    try { after = await journal.load(); } catch (e) { message(e.message); return; }
    const live = document.getElementById("live");
    follow(after,
      (batch) => { for (const p of shown) if (p.onEntries) p.onEntries(batch); },
      () => { for (const p of shown) if (p.onCleared) p.onCleared(); },
      (on) => { live.textContent = on ? "live" : "reconnecting"; live.className = on ? "live" : "live off"; });
    document.body.dataset.ready = "true";
  }

  async function control(path, method) {
    try {
      await api(path, { method });
      message("");
      // One space's clear moves its view on (the journal itself stays): its stream says nothing.
      if (sessionStorage.getItem(SPACE_KEY) && !sessionStorage.getItem(TOKEN_KEY)) {
        for (const p of state.shown) if (p.onCleared) p.onCleared();
      }
    } catch (e) { message(e.message); }
  }

  document.addEventListener("DOMContentLoaded", () => {
    document.getElementById("token-form").addEventListener("submit", (event) => {
      event.preventDefault();
      const token = document.getElementById("token").value, key = document.getElementById("space-key").value;
      if (!token && !key) { document.getElementById("token-error").textContent = "Give the admin token or an API key."; return; }
      sessionStorage.removeItem(TOKEN_KEY); sessionStorage.removeItem(SPACE_KEY);
      if (token) sessionStorage.setItem(TOKEN_KEY, token); else sessionStorage.setItem(SPACE_KEY, key);
      document.getElementById("token-form").hidden = true;
      if (state.started) location.reload(); // the panels are built for one credential
      else start().catch((e) => message(e.message));
    });
    document.getElementById("sign-out").addEventListener("click", () => {
      sessionStorage.removeItem(TOKEN_KEY); sessionStorage.removeItem(SPACE_KEY); location.reload();
    });
    document.getElementById("reset").addEventListener("click", () => control("/reset", "POST"));
    document.getElementById("clear-journal").addEventListener("click", () => control("/journal", "DELETE"));
    start().catch((e) => message(e.message));
  });

  window.Inspector = { registerPanel, api, el, body, table };
})();

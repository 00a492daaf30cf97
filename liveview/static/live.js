// The live call view: reads the gateway's stream (GET live/events, NDJSON)
// with fetch, the admin token in an Authorization header (kept in this
// tab's sessionStorage, never in a URL), and shows every call kept.
// Everything shown is set with textContent: no line from a script is ever
// parsed as HTML.
'use strict';
(() => {
  const KEY = 'eivr-gateway-admin-token';
  const MAX_LINES = 300;
  const $ = (id) => document.getElementById(id);
  const calls = new Map(); // session -> {el, call, endedAt}
  let linger = 30000;
  let generation = 0; // a newer connect() makes an older stream stop
  let retryTimer = 0;

  function setStatus(text, cls) {
    const s = $('status');
    s.textContent = text;
    s.className = 'status ' + cls;
  }

  function showLogin(msg) {
    setStatus('not connected', 'off');
    $('login-error').textContent = msg || '';
    $('login').hidden = false;
    $('logout').hidden = true;
    $('token').focus();
  }

  $('login').addEventListener('submit', (e) => {
    e.preventDefault();
    const t = $('token').value;
    $('token').value = '';
    if (!t) return;
    sessionStorage.setItem(KEY, t);
    connect();
  });
  $('logout').addEventListener('click', () => {
    sessionStorage.removeItem(KEY);
    generation++;
    showLogin('');
  });

  function retry(why) {
    setStatus(why + '; reconnecting…', 'error');
    clearTimeout(retryTimer);
    retryTimer = setTimeout(connect, 2000);
  }

  async function connect() {
    const gen = ++generation;
    clearTimeout(retryTimer);
    const token = sessionStorage.getItem(KEY);
    if (!token) { showLogin(''); return; }
    $('login').hidden = true;
    $('logout').hidden = false;
    setStatus('connecting…', 'off');
    let res;
    try {
      res = await fetch('live/events', {
        headers: { 'Authorization': 'Bearer ' + token, 'Accept': 'application/x-ndjson' },
        cache: 'no-store', credentials: 'omit', referrerPolicy: 'no-referrer',
      });
    } catch (e) {
      if (gen === generation) retry('gateway unreachable');
      return;
    }
    if (res.status === 401) {
      sessionStorage.removeItem(KEY);
      showLogin('Wrong token.');
      return;
    }
    if (!res.ok) {
      const text = (await res.text()).trim();
      if (res.status === 403) { sessionStorage.removeItem(KEY); showLogin(text); return; }
      if (gen === generation) retry(text || ('HTTP ' + res.status));
      return;
    }
    setStatus('live', 'live');
    const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
    let buf = '';
    let why = 'stream ended';
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done || gen !== generation) break;
        buf += value;
        let i;
        while ((i = buf.indexOf('\n')) >= 0) {
          const line = buf.slice(0, i);
          buf = buf.slice(i + 1);
          if (!line) continue;
          const ev = JSON.parse(line);
          if (ev.type === 'bye') why = 'stream ended (' + ev.reason + ')';
          handle(ev);
        }
      }
    } catch (e) {
      why = 'stream broken';
    }
    reader.cancel().catch(() => {});
    if (gen === generation) retry(why);
  }

  function handle(ev) {
    switch (ev.type) {
      case 'hello':
        linger = ev.linger || linger;
        for (const s of [...calls.keys()]) remove(s);
        for (const c of ev.calls || []) {
          upsert(c);
          for (const l of c.lines || []) addLine(c.session, l);
        }
        break;
      case 'call': upsert(ev.call); break;
      case 'line': addLine(ev.session, ev.line); break;
      case 'gone': remove(ev.session); break;
    }
    $('empty').hidden = calls.size > 0;
  }

  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }

  function upsert(c) {
    let v = calls.get(c.session);
    if (!v) {
      const art = el('article', 'call');
      art.dataset.session = c.session;
      const h = el('h2');
      h.append(el('span', 'name'), el('span', 'caller'), el('span', 'state'));
      art.append(h, el('div', 'meta'), el('div', 'cause'), el('ol', 'lines'));
      $('calls').append(art);
      v = { el: art, call: c, endedAt: 0 };
      calls.set(c.session, v);
    }
    v.call = c;
    const art = v.el;
    const done = c.state === 'ended' || c.state === 'refused';
    if (done && !v.endedAt) v.endedAt = Date.now();
    art.dataset.state = c.state;
    art.dataset.channel = c.channel || '';
    art.classList.toggle('ended', c.state === 'ended');
    art.classList.toggle('refused', c.state === 'refused');
    art.querySelector('.name').textContent = c.channelName || c.channel || c.session;
    let caller = c.callerNum || '';
    if (c.callerName) caller = '"' + c.callerName + '" <' + caller + '>';
    art.querySelector('.caller').textContent = caller;
    art.querySelector('.state').textContent = c.state;
    let meta = c.target || '';
    if (c.args && c.args.length) meta += '(' + c.args.join(',') + ')';
    if (c.options) meta += ', ' + c.options;
    meta += (meta ? ' · ' : '') + 'app ' + (c.app || '?');
    if (c.started) meta += ' · since ' + new Date(c.started).toLocaleTimeString();
    if (c.status) meta += ' · EIVRGW_STATUS=' + c.status;
    art.querySelector('.meta').textContent = meta;
    art.querySelector('.cause').textContent = c.cause || '';
  }

  function addLine(session, l) {
    const v = calls.get(session);
    if (!v) return;
    const ol = v.el.querySelector('.lines');
    const atEnd = ol.scrollTop + ol.clientHeight >= ol.scrollHeight - 4;
    const li = el('li', l.dir);
    li.dataset.dir = l.dir;
    const t = el('time', '', new Date(l.at).toLocaleTimeString([], { hour12: false }) + '.' +
      String(new Date(l.at).getMilliseconds()).padStart(3, '0'));
    const arrow = { to: '→', from: '←', note: '·' }[l.dir] || ' ';
    li.append(t, el('span', 'dir', arrow), el('code', 'text', l.text));
    ol.append(li);
    while (ol.children.length > MAX_LINES) ol.firstElementChild.remove();
    if (atEnd) ol.scrollTop = ol.scrollHeight;
  }

  function remove(session) {
    const v = calls.get(session);
    if (!v) return;
    v.el.remove();
    calls.delete(session);
  }

  // Ended calls linger, then go, even when no event comes to say so.
  setInterval(() => {
    const now = Date.now();
    for (const [s, v] of calls) if (v.endedAt && now - v.endedAt >= linger) remove(s);
    $('empty').hidden = calls.size > 0;
  }, 1000);

  connect();
})();

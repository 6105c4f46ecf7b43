// The trade approvals page: pending requests with their reason and a live countdown, approve / reject, recent
// decisions. Plain browser JavaScript (no build step, nothing from a CDN). Every data call goes to /v1/approvals
// with the key the user typed, kept in sessionStorage (this tab only) and sent only as an Authorization header;
// API text is always set with textContent, never parsed as HTML.
'use strict';

(() => {
  const KEY_STORAGE = 'durable-trader.apiKey';
  const REFRESH_MS = 5_000;
  const RECENT_ROWS = 20;
  const REASON_MAX = 500;

  const $ = (id) => document.getElementById(id);
  const els = {
    keyForm: $('key-form'),
    keyInput: $('api-key'),
    forgetKey: $('forget-key'),
    loadError: $('load-error'),
    notice: $('notice'),
    refreshed: $('refreshed'),
    pendingEmpty: $('pending-empty'),
    pendingList: $('pending-list'),
    recentRows: $('recent-rows'),
    recentEmpty: $('recent-empty'),
  };

  /** id -> the card of a pending request and what its countdown needs */
  const cards = new Map();
  let refreshTimer = 0;
  /** bumped when the key changes: answers to requests sent with the old key are dropped */
  let generation = 0;
  let lastRequested = 0;
  let lastApplied = 0;

  class ApiError extends Error {
    constructor(status, message) {
      super(message);
      this.status = status;
    }
  }

  const storedKey = () => sessionStorage.getItem(KEY_STORAGE);

  async function api(method, path, body) {
    const key = storedKey();
    if (!key) throw new ApiError(401, 'no API key: enter one above');
    const headers = { accept: 'application/json', authorization: `Bearer ${key}` };
    const init = { method, headers, cache: 'no-store', credentials: 'omit', referrerPolicy: 'no-referrer' };
    if (body !== undefined) {
      headers['content-type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    let res;
    try {
      res = await fetch(path, init);
    } catch (err) {
      throw new ApiError(0, `cannot reach the API (${err && err.message ? err.message : String(err)})`);
    }
    let data;
    try {
      data = await res.json();
    } catch {
      data = undefined;
    }
    if (!res.ok) {
      const e = data && data.error;
      const message = (e && e.message) || res.statusText || 'request failed';
      const issues = e && Array.isArray(e.issues) ? e.issues.map((i) => `${i.path || i.in}: ${i.message}`).join('; ') : '';
      throw new ApiError(res.status, issues ? `${message} (${issues})` : message);
    }
    return data;
  }

  const describeError = (err) => `${err.message}${err.status ? ` (HTTP ${err.status})` : ''}`;

  // ---- formatting -------------------------------------------------------------------------------------------

  const numberFormat = new Intl.NumberFormat('en-US', { maximumFractionDigits: 6 });
  const moneyFormat = new Intl.NumberFormat('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 });
  const num = (v) => (typeof v === 'number' && Number.isFinite(v) ? numberFormat.format(v) : '-');
  const money = (v) => (typeof v === 'number' && Number.isFinite(v) ? moneyFormat.format(v) : '-');
  const time = (iso) => (iso ? new Date(iso).toLocaleString() : '-');

  function duration(ms) {
    if (!(ms > 0)) return 'expired';
    const s = Math.ceil(ms / 1000);
    const h = Math.floor(s / 3600);
    const m = Math.floor((s % 3600) / 60);
    const ss = String(s % 60).padStart(2, '0');
    return h > 0 ? `${h}h ${String(m).padStart(2, '0')}m ${ss}s` : `${m}m ${ss}s`;
  }

  const tradeTitle = (a) => `${String(a.trade.side).toUpperCase()} ${num(a.trade.qty)} ${a.trade.symbol} @ ${num(a.trade.price)}`;

  function signalText(signal) {
    if (signal === null || signal === undefined) return '-';
    if (signal === 1) return '1 (long)';
    if (signal === -1) return '-1 (short)';
    if (signal === 0) return '0 (flat)';
    return typeof signal === 'object' ? JSON.stringify(signal) : String(signal);
  }

  function indicatorsText(indicators) {
    if (!indicators || typeof indicators !== 'object') return '-';
    const parts = Object.entries(indicators).map(([k, v]) => `${k} ${typeof v === 'number' ? num(v) : JSON.stringify(v)}`);
    return parts.length ? parts.join(', ') : '-';
  }

  function riskText(risk) {
    if (!risk || typeof risk !== 'object') return '-';
    const reasons = Array.isArray(risk.reasons) ? risk.reasons.map((r) => `${r.rule}: ${r.detail}`) : [];
    const head = `${risk.decision ?? '?'}, qty ${num(risk.qty)}${risk.breaker && risk.breaker !== 'none' ? `, breaker ${risk.breaker}` : ''}`;
    return reasons.length ? `${head} (${reasons.join('; ')})` : `${head} (no objections)`;
  }

  function decisionsText(decisions) {
    if (!Array.isArray(decisions) || decisions.length === 0) return '-';
    return decisions.map((d) => `${d.approver} ${d.decision === 'approve' ? 'approved' : 'rejected'}${d.reason ? `: ${d.reason}` : ''}`).join('; ');
  }

  /** Only http(s) links from the API are rendered as links (never javascript: or data:). */
  function safeHref(url) {
    try {
      const u = new URL(url, window.location.href);
      return u.protocol === 'http:' || u.protocol === 'https:' ? u.href : null;
    } catch {
      return null;
    }
  }

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v !== undefined && v !== null && v !== false) node.setAttribute(k, v === true ? '' : String(v));
    }
    for (const c of children) if (c !== null && c !== undefined) node.append(c instanceof Node ? c : String(c));
    return node;
  }

  function temporalLink(a) {
    const href = safeHref(a.links && a.links.temporalUi);
    const text = `${a.workflowId} in the Temporal UI`;
    return href ? el('a', { href, target: '_blank', rel: 'noopener noreferrer' }, text) : text;
  }

  // ---- pending requests -------------------------------------------------------------------------------------

  function createCard(a) {
    const titleId = `approval-${a.id}-title`;
    const reasonId = `approval-${a.id}-reason`;
    const reason = a.reason || {};
    const timer = el('dd', { role: 'timer' });
    const approvals = el('dd');
    const rows = [
      ['Symbol', a.trade.symbol],
      ['Side', a.trade.side],
      ['Quantity', num(a.trade.qty)],
      ['Price when asked', num(a.trade.price)],
      ['Notional', money(a.trade.notional)],
      ['Signal', signalText(reason.signal)],
      ['Indicators', indicatorsText(reason.indicators)],
      ['Risk verdict', riskText(reason.risk)],
      ['Policy rule', reason.rule ?? '-'],
      ['Strategy', reason.strategy ? `${reason.strategy}${reason.paramsVersion !== undefined ? ` (params v${reason.paramsVersion})` : ''}` : '-'],
      ['Requested by', a.requestedBy],
      ['Requested at', time(a.createdAt)],
    ];
    const dl = el('dl');
    for (const [k, v] of rows) dl.append(el('dt', {}, k), el('dd', {}, v));
    dl.append(el('dt', {}, 'Approvals'), approvals, el('dt', {}, 'Time left'), timer);

    const reasonInput = el('input', { id: reasonId, type: 'text', maxlength: REASON_MAX, autocomplete: 'off' });
    const approve = el('button', { type: 'button', class: 'approve' }, 'Approve');
    const reject = el('button', { type: 'button', class: 'reject' }, 'Reject');
    const alert = el('p', { role: 'alert', class: 'error' });
    const decide = el('div', { class: 'decide' }, el('label', { for: reasonId }, 'Reason (optional)'), reasonInput, approve, reject);

    const root = el('article', { class: 'card', 'aria-labelledby': titleId, 'data-approval-id': a.id }, el('h3', { id: titleId }, tradeTitle(a)), dl, el('p', {}, temporalLink(a)), decide, alert);
    const card = { root, timer, approvals, approve, reject, reasonInput, alert, deadline: 0, busy: false, title: tradeTitle(a) };
    approve.addEventListener('click', () => void decideOn(a.id, 'approve', card));
    reject.addEventListener('click', () => void decideOn(a.id, 'reject', card));
    return card;
  }

  function updateCard(card, a, receivedAt) {
    // The server's time left, counted down from when the answer arrived: immune to this machine's clock offset.
    card.deadline = receivedAt + a.timeLeftMs;
    card.approvals.textContent = `${a.approvals} of ${a.requiredApprovals}`;
    tickCard(card, Date.now());
  }

  function tickCard(card, now) {
    const left = card.deadline - now;
    card.timer.textContent = duration(left);
    const disabled = card.busy || !(left > 0);
    card.approve.disabled = disabled;
    card.reject.disabled = disabled;
  }

  function renderPending(list, receivedAt) {
    const seen = new Set();
    for (const a of list) {
      seen.add(a.id);
      let card = cards.get(a.id);
      if (!card) {
        card = createCard(a);
        cards.set(a.id, card);
      }
      updateCard(card, a, receivedAt);
      els.pendingList.append(card.root); // keeps the API's order (newest first); moves, never recreates, a card
    }
    for (const [id, card] of cards) {
      if (!seen.has(id)) {
        card.root.remove();
        cards.delete(id);
      }
    }
    els.pendingEmpty.hidden = cards.size > 0;
  }

  async function decideOn(id, decision, card) {
    const verb = decision === 'approve' ? 'Approve' : 'Reject';
    card.alert.textContent = '';
    card.busy = true;
    tickCard(card, Date.now());
    const reason = card.reasonInput.value.trim();
    try {
      const r = await api('POST', `/v1/approvals/${encodeURIComponent(id)}/${decision}`, reason ? { reason } : {});
      const late = r.signalled ? '' : '; the workflow reads the recorded decision within 30 s';
      notice(`${decision === 'approve' ? 'Approved' : 'Rejected'} ${card.title}: the request is now ${r.status} (${r.approvals} of ${r.requiredApprovals} approvals)${late}.`);
      card.reasonInput.value = '';
      scheduleRefresh(0);
    } catch (err) {
      card.alert.textContent = `${verb} refused: ${describeError(err)}`;
    } finally {
      card.busy = false;
      tickCard(card, Date.now());
    }
  }

  // ---- recent decisions -------------------------------------------------------------------------------------

  function renderRecent(list) {
    const decided = list
      .filter((a) => a.status !== 'pending')
      .map((a) => ({ a, at: a.decidedAt || a.expiresAt }))
      .sort((x, y) => Date.parse(y.at) - Date.parse(x.at))
      .slice(0, RECENT_ROWS);
    const rows = decided.map(({ a, at }) => {
      const order = a.clientOrderId && !(a.outcome || '').includes(a.clientOrderId) ? `order ${a.clientOrderId}` : null;
      const outcome = [a.outcome, order].filter(Boolean).join('; ') || '-';
      return el(
        'tr',
        { 'data-approval-id': a.id },
        el('td', {}, time(at)),
        el('td', {}, tradeTitle(a)),
        el('td', { class: 'status' }, a.status),
        el('td', {}, decisionsText(a.decisions)),
        el('td', {}, outcome),
        el('td', {}, temporalLink(a)),
      );
    });
    els.recentRows.replaceChildren(...rows);
    els.recentEmpty.hidden = rows.length > 0;
  }

  // ---- refresh loop and key handling ------------------------------------------------------------------------

  function notice(text) {
    els.notice.textContent = text;
  }

  function loadError(text) {
    els.loadError.textContent = text;
  }

  function scheduleRefresh(ms) {
    window.clearTimeout(refreshTimer);
    refreshTimer = window.setTimeout(() => void refresh(), ms);
  }

  async function refresh() {
    const gen = generation;
    const seq = ++lastRequested;
    try {
      const [pending, all] = await Promise.all([api('GET', '/v1/approvals?status=pending&limit=100'), api('GET', '/v1/approvals?limit=200')]);
      // an answer for an old key, or older than one already shown, changes nothing
      if (gen !== generation || seq < lastApplied) return;
      lastApplied = seq;
      renderPending(pending.approvals, Date.now());
      renderRecent(all.approvals);
      loadError('');
      els.refreshed.textContent = `Updated ${new Date().toLocaleTimeString()}; refreshes every ${REFRESH_MS / 1000} s.`;
    } catch (err) {
      if (gen !== generation) return;
      if (err.status === 401) {
        forgetKey();
        loadError(`The API did not accept this key: ${describeError(err)}. Enter another one.`);
        return;
      }
      loadError(`Could not refresh: ${describeError(err)}. Showing what was loaded before; trying again.`);
    }
    if (gen === generation && seq === lastRequested) scheduleRefresh(REFRESH_MS);
  }

  function keyIsSet(set) {
    els.forgetKey.hidden = !set;
    els.keyInput.placeholder = set ? 'a key is set for this tab' : '';
    els.keyInput.required = !set;
  }

  function forgetKey() {
    sessionStorage.removeItem(KEY_STORAGE);
    generation++;
    window.clearTimeout(refreshTimer);
    for (const card of cards.values()) card.root.remove();
    cards.clear();
    els.recentRows.replaceChildren();
    els.pendingEmpty.hidden = true;
    els.recentEmpty.hidden = true;
    els.refreshed.textContent = 'Enter an API key to load the requests.';
    notice('');
    keyIsSet(false);
  }

  els.keyForm.addEventListener('submit', (event) => {
    event.preventDefault();
    const key = els.keyInput.value.trim();
    if (!key) return;
    forgetKey();
    sessionStorage.setItem(KEY_STORAGE, key);
    els.keyInput.value = '';
    keyIsSet(true);
    loadError('');
    els.refreshed.textContent = 'Loading…';
    scheduleRefresh(0);
  });

  els.forgetKey.addEventListener('click', () => {
    forgetKey();
    loadError('');
    els.keyInput.focus();
  });

  window.setInterval(() => {
    const now = Date.now();
    for (const card of cards.values()) tickCard(card, now);
  }, 1_000);

  if (storedKey()) {
    keyIsSet(true);
    els.refreshed.textContent = 'Loading…';
    scheduleRefresh(0);
  } else {
    keyIsSet(false);
  }
})();

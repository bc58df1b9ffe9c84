// Sports: followed teams' games (live first), each team's status and recent results, a game's score timeline.

import {api} from "../api.js";
import {chart, timeAxis} from "../charts.js";
import {card, errorBox, fill, h, link, panel, statusBadge, table, when} from "../dom.js";

const REFRESH_MS = 15000;
const score = (g) => `${g.away.abbreviation} ${g.away.score ?? "-"} – ${g.home.score ?? "-"} ${g.home.abbreviation}`;

async function teamCard(el, team) {
  try {
    const [status, context] = await Promise.all([
      api(`query/sports/teams/${encodeURIComponent(team)}/status`),
      api(`query/sports/teams/${encodeURIComponent(team)}/context`),
    ]);
    const record = context.season_record || {};
    el.append(h("div.card", {dataset: {team}},
      h("div.label", {}, `${team} · ${status.league || context.league || ""}`),
      h("div.value", {}, status.is_playing ? `${status.score.team}–${status.score.opponent} vs ${status.opponent}`
        : status.status || "no game"),
      h("p.muted", {}, `Season ${record.wins ?? 0}-${record.losses ?? 0}${record.ties ? `-${record.ties}` : ""} · last: ` +
        ((context.last_results || []).map((r) => `${r.result} ${r.score.team}–${r.score.opponent} ${r.opponent}`).join(", ") || "-"))));
  } catch (err) {
    el.append(errorBox(err, team));
  }
}

export async function render(root, ctx) {
  const teams = h("div.cards");
  const games = h("div");
  const timeline = h("div");
  root.append(h("h1", {}, "Sports"), teams, panel("Games", games), h("section.panel", {}, timeline));  // hidden while empty
  let shownTeams = false;
  let scoreChart = null;

  async function showTimeline(id) {
    try {
      const t = await api(`query/sports/games/${encodeURIComponent(id)}/timeline`);
      if (!ctx.current()) return;
      // the axis spans the game's points (a quarter of an hour at least) and, like every time axis of the app, puts
      // no label so close to an end that it would sit on the score axis's labels
      const times = t.points.map((p) => new Date(p.t).getTime());
      const first = times.length ? Math.min(...times) : Date.now();
      const last = Math.max(first + 15 * 60 * 1000, ...times);
      const span = {start: new Date(first), end: new Date(last), seconds: (last - first) / 1000};
      const option = {
        tooltip: {trigger: "axis"}, legend: {bottom: 0}, grid: {left: 8, right: 16, top: 20, bottom: 30, containLabel: true},
        xAxis: timeAxis(span), yAxis: {type: "value", minInterval: 1},
        series: [
          {name: t.home && t.home.abbreviation ? t.home.abbreviation : "home", type: "line", step: "end",
            data: t.points.map((p) => [p.t, p.home_score])},
          {name: t.away && t.away.abbreviation ? t.away.abbreviation : "away", type: "line", step: "end",
            data: t.points.map((p) => [p.t, p.away_score])},
        ],
      };
      if (scoreChart) scoreChart.dispose();
      const el = h("div.chart", {id: "chart-score"});
      fill(timeline, h("h2", {}, `Score timeline · ${id}`), el);
      scoreChart = chart(el, option, ctx.cleanup);
    } catch (err) {
      fill(timeline, errorBox(err, "Game timeline"));
    }
  }

  async function load() {
    let page;
    try {
      page = await api("query/sports/games", {params: {limit: 100}});
    } catch (err) {
      if (ctx.current()) fill(games, errorBox(err, "Games"));
      return;
    }
    if (!ctx.current()) return;
    const order = {live: 0, scheduled: 1, final: 2};
    const items = (page.items || []).slice().sort((a, b) => (order[a.status] ?? 3) - (order[b.status] ?? 3));
    fill(games, items.length ? table([
      {label: "Start", render: (g) => when(g.start_time)},
      {label: "League", render: (g) => String(g.league || "").toUpperCase(), phone: false},
      {label: "Game", render: (g) => link(`#/sports/${encodeURIComponent(g.game_id)}`, score(g))},
      {label: "Status", render: (g) => statusBadge(g.status === "live" ? "ok" : "unknown", g.status)},
      {label: "Period", render: (g) => [g.period, g.clock].filter((x) => x !== null && x !== undefined).join(" · "),
        phone: false},
    ], items, (g) => ({dataset: {gameId: g.game_id}})) : h("p.empty", {},
      "No games stored (set SPORTS_TEAMS, e.g. nfl:SF,nhl:BOS)."));
    if (!shownTeams && items.length) {
      shownTeams = true;
      const names = [...new Set(items.flatMap((g) => [g.home.abbreviation, g.away.abbreviation]))].slice(0, 6);
      fill(teams);
      await Promise.all(names.map((t) => teamCard(teams, t)));
    }
    if (!scoreChart && (ctx.arg || items.length)) await showTimeline(ctx.arg || items[0].game_id);
  }

  ctx.every(REFRESH_MS, load);
  await load();
  if (!teams.firstChild) fill(teams, card("Teams", "-"));
}

/* report_html.c - renders a compile's report object as report.html: one
 * self-contained page of tables and inline SVG charts (docs/reports.md). */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "json_text.h"
#include "report.h"
#include "report_svg.h"

#define NOMEM PC_E_NOMEM

/* Charts draw every marker up to this many; more are thinned. */
#define MARKERS_MAX 1500
/* Line charts keep at most this many points. */
#define LINE_POINTS_MAX 1000
/* Distinct trial groups (kind or split) with their own colour. */
#define GROUPS_MAX 8
/* Labels in tables and tooltips are cut to this many bytes. */
#define LABEL_MAX 120
/* The candidate tree draws at most this many candidates. */
#define TREE_MAX 300
/* Heatmaps show at most this many instruction and demo-set indexes, and
 * this many predictors. */
#define GRID_MAX 60
#define PREDICTORS_MAX 20
/* The Pareto chart has at most this many bars. */
#define BARS_MAX 200
/* Raw JSON shown in the page (state demos, the optimizer's report). */
#define RAW_MAX ((size_t)200 << 10)

static const char *const group_fill[GROUPS_MAX] = {
  "#0072b2", "#e69f00", "#009e73", "#cc79a7",
  "#56b4e9", "#d55e00", "#999933", "#555555",
};

static const char style[] =
  "body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',sans-serif;"
  "color:#222;max-width:1000px;margin:1.5em auto;padding:0 1em}\n"
  "h1{font-size:1.5em}h2{font-size:1.2em;margin-top:2em;"
  "border-bottom:1px solid #ccc}h3{font-size:1em}\n"
  "table{border-collapse:collapse;margin:.5em 0}"
  "td,th{border:1px solid #ddd;padding:2px 8px;text-align:left;"
  "vertical-align:top}th{background:#f4f4f4}\n"
  "td.n{text-align:right;font-variant-numeric:tabular-nums}\n"
  "pre{white-space:pre-wrap;background:#f8f8f8;border:1px solid #e4e4e4;"
  "padding:.5em;overflow-wrap:anywhere}\n"
  "code{font-size:.92em;overflow-wrap:anywhere}.note{color:#666}\n"
  "svg{max-width:100%;height:auto;display:block;margin:.5em 0}\n"
  "svg text{font:11px system-ui,sans-serif;fill:#333}"
  "svg text.label{font-size:12px}svg text.cell{font-size:10px}"
  "svg text.light{fill:#fff}\n"
  ".grid{stroke:#eee}.tick,.frame{stroke:#666}\n"
  ".best{fill:none;stroke:#222;stroke-width:2}"
  ".base{stroke:#888;stroke-width:1.5;stroke-dasharray:6 4}\n"
  ".calls{fill:none;stroke:#0072b2;stroke-width:2}"
  ".metric{fill:none;stroke:#009e73;stroke-width:1.5;"
  "stroke-dasharray:2 3}.cost{fill:none;stroke:#d55e00;stroke-width:2;"
  "stroke-dasharray:7 3}\n"
  ".edge{stroke:#999}.merge{stroke:#cc79a7;stroke-dasharray:4 3}\n"
  ".node{fill:#fff;stroke:#666;stroke-width:1.5}"
  ".front{fill:#e0f0e8;stroke:#009e73;stroke-width:2.5}"
  ".top{fill:#ffe9a8;stroke:#b8860b;stroke-width:3.5}\n"
  ".bar{fill:#009e73}.empty{fill:#f2f2f2}\n"
  "@media print{body{max-width:none;margin:0}h2{break-after:avoid}"
  "svg,tr{break-inside:avoid}}\n";

/* ---- reading the report ------------------------------------------------ */

static const struct json_object *member(const struct json_object *o,
                                        const char *key)
{
  return pc_json_member(o, key);
}

/* A finite number `v` in *d: 1, else 0 (*d = NAN). */
static int num_of(const struct json_object *v, double *d)
{
  *d = NAN;
  if (!v || !(json_object_is_type(v, json_type_int) ||
              json_object_is_type(v, json_type_double)))
    return 0;
  *d = json_object_get_double(v);
  return isfinite(*d);
}

static int num(const struct json_object *o, const char *key, double *d)
{
  return num_of(member(o, key), d);
}

/* Array member `key` of `o`, NULL when it is not an array. */
static const struct json_object *array(const struct json_object *o,
                                       const char *key)
{
  const struct json_object *v = member(o, key);

  return v && json_object_is_type(v, json_type_array) ? v : NULL;
}

static size_t len_of(const struct json_object *a)
{
  return a ? json_object_array_length(a) : 0;
}

static const struct json_object *at(const struct json_object *a, size_t i)
{
  return json_object_array_get_idx(a, i);
}

/* ---- writing ----------------------------------------------------------- */

static int put(pc_buf *b, const char *s)
{
  return pc_buf_puts(b, s);
}

static int esc(pc_buf *b, const char *s)
{
  return pc__html_escape(b, s);
}

/* A number with `decimals`, or "-" when not finite. */
static int put_num(pc_buf *b, double d, int decimals)
{
  if (!isfinite(d))
    return put(b, "-");
  return pc_buf_printf(b, "%.*f", decimals, d);
}

/* `v` as JSON text (escaped), cut at `max` bytes. */
static int put_json(pc_buf *b, const struct json_object *v, unsigned flags,
                    size_t max)
{
  pc_buf t;
  int rc;

  pc_buf_init(&t, PC_BUF_DEFAULT_MAX);
  rc = pc_json_write(v, flags | PC__JSON_TEXT_NONFINITE_NULL, &t);
  if (rc == PC_E_INVALID_ARG)  /* nested too deep to write */
    rc = put(b, "(too deeply nested to show)");
  else if (!rc)
    rc = pc__html_escape_max(b, t.data ? t.data : "", max);
  pc_buf_free(&t);
  return rc ? NOMEM : PC_OK;
}

/* One row of a two-column table: the header and escaped text. */
static int row_text(pc_buf *b, const char *head, const char *text)
{
  if (put(b, "<tr><th>") || esc(b, head) || put(b, "</th><td>") ||
      esc(b, text ? text : "-") || put(b, "</td></tr>\n"))
    return NOMEM;
  return PC_OK;
}

/* ---- the trials ------------------------------------------------------- */

struct trial {
  double x;          /* trial number */
  double score;      /* NAN when null or missing */
  double n;          /* examples scored, NAN when missing */
  double elapsed;    /* at.elapsed_ms in seconds, NAN when missing */
  double calls, metric_calls, cost;   /* from "at", NAN when missing */
  int group;
  const char *label;   /* borrowed, may be NULL */
};

struct trials {
  struct trial *t;     /* owned */
  size_t n;
  const char *group_name[GROUPS_MAX];  /* borrowed */
  int n_groups;
  int overflow;        /* more groups than colours: the last is "other" */
  double max_n;        /* largest "n", NAN when none has one */
};

/* The group of trial `o`: its "kind", else its "split", else "trial". */
static const char *group_of(const struct json_object *o)
{
  const char *g = pc_json_str(o, "kind");

  if (!g)
    g = pc_json_str(o, "split");
  return g ? g : "trial";
}

static int trials_read(const struct json_object *report, struct trials *ts)
{
  const struct json_object *a = array(report, "trials");
  size_t n = len_of(a);

  memset(ts, 0, sizeof(*ts));
  ts->max_n = NAN;
  if (!n)
    return PC_OK;
  if (!(ts->t = pc_calloc(n, sizeof(*ts->t))))
    return NOMEM;
  ts->n = n;
  for (size_t i = 0; i < n; i++) {
    const struct json_object *o = at(a, i), *spent = member(o, "at");
    struct trial *t = &ts->t[i];
    const char *g = group_of(o);
    int k;

    if (!num(o, "trial", &t->x))
      t->x = (double)(i + 1);
    num(o, "score", &t->score);
    if (num(o, "n", &t->n) && !(ts->max_n >= t->n))
      ts->max_n = t->n;
    if (num(spent, "elapsed_ms", &t->elapsed))
      t->elapsed /= 1000.0;
    num(spent, "calls", &t->calls);
    num(spent, "metric_calls", &t->metric_calls);
    num(spent, "cost", &t->cost);
    t->label = pc_json_str(o, "label");
    for (k = 0; k < ts->n_groups; k++)
      if (!strcmp(ts->group_name[k], g))
        break;
    if (k == ts->n_groups) {
      if (k < GROUPS_MAX) {
        ts->group_name[k] = g;
        ts->n_groups++;
      } else {
        k = GROUPS_MAX - 1;  /* the last colour takes the rest */
        ts->overflow = 1;
      }
    }
    t->group = k;
  }
  return PC_OK;
}

/* Whether trial t counts for the best so far: it scored the full set
 * (the largest n of the run), not a minibatch. */
static int is_full(const struct trials *ts, const struct trial *t)
{
  return !isfinite(t->n) || !isfinite(ts->max_n) || t->n >= ts->max_n;
}

/* ---- the summary ------------------------------------------------------- */

static int section_summary(pc_buf *b, const struct json_object *r)
{
  const struct json_object *prog = member(r, "program");
  const struct json_object *opt = member(r, "optimizer");
  const struct json_object *u = member(r, "usage");
  double base, comp, bn, cn, d1, d2, d3, d4, d5;
  const char *stop = pc_json_str(r, "stopped_by");

  if (put(b, "<section id=\"summary\">\n<h2>Summary</h2>\n<table>\n") ||
      put(b, "<tr><th>Program</th><td>") ||
      esc(b, pc_json_str(prog, "name") ? pc_json_str(prog, "name") : "-") ||
      (pc_json_str(prog, "path") &&
       (put(b, " <code>") || esc(b, pc_json_str(prog, "path")) ||
        put(b, "</code>"))) ||
      (pc_json_str(prog, "sha256") &&
       (put(b, "<br><span class=\"note\">sha256 ") ||
        esc(b, pc_json_str(prog, "sha256")) || put(b, "</span>"))) ||
      put(b, "</td></tr>\n") ||
      row_text(b, "Run", pc_json_str(r, "run_id")) ||
      put(b, "<tr><th>Optimizer</th><td>") ||
      esc(b, pc_json_str(opt, "name") ? pc_json_str(opt, "name") : "-") ||
      put(b, " <span class=\"note\">(") || esc(b, pc_json_str(opt, "id")) ||
      put(b, " ") || esc(b, pc_json_str(opt, "version")) ||
      put(b, ")</span></td></tr>\n<tr><th>Settings</th><td><code>") ||
      put_json(b, member(opt, "settings"), PC_JSON_TEXT_SPACED, RAW_MAX) ||
      put(b, "</code></td></tr>\n<tr><th>Seed</th><td>") ||
      put_json(b, member(r, "seed"), 0, 64) ||
      put(b, "</td></tr>\n"))
    return NOMEM;
  num(member(r, "baseline"), "score", &base);
  num(member(r, "baseline"), "n", &bn);
  num(member(r, "compiled"), "score", &comp);
  num(member(r, "compiled"), "n", &cn);
  if (put(b, "<tr><th>Score on val</th><td>baseline ") ||
      put_num(b, base, 2) || put(b, " &rarr; compiled <b>") ||
      put_num(b, comp, 2) || put(b, "</b>"))
    return NOMEM;
  if (isfinite(base) && isfinite(comp) &&
      pc_buf_printf(b, " (%+.2f)", comp - base))
    return NOMEM;
  if (put(b, " <span class=\"note\">on ") || put_num(b, cn, 0) ||
      put(b, " examples</span></td></tr>\n<tr><th>Trials</th><td>") ||
      pc_buf_printf(b, "%zu", len_of(array(r, "trials"))) ||
      put(b, "</td></tr>\n"))
    return NOMEM;
  num(u, "task_calls", &d1);
  num(u, "proposal_calls", &d2);
  num(u, "metric_calls", &d3);
  num(u, "provider_calls", &d4);
  num(u, "cache_hits", &d5);
  if (put(b, "<tr><th>Calls</th><td>task ") || put_num(b, d1, 0) ||
      put(b, ", proposal ") || put_num(b, d2, 0) || put(b, ", metric ") ||
      put_num(b, d3, 0) || put(b, "; provider ") || put_num(b, d4, 0) ||
      put(b, ", cache hits ") || put_num(b, d5, 0) ||
      put(b, "</td></tr>\n"))
    return NOMEM;
  num(u, "prompt_tokens", &d1);
  num(u, "completion_tokens", &d2);
  num(u, "cost", &d3);
  num(r, "elapsed_ms", &d4);
  if (put(b, "<tr><th>Tokens</th><td>") || put_num(b, d1, 0) ||
      put(b, " prompt, ") || put_num(b, d2, 0) ||
      put(b, " completion (paid)</td></tr>\n<tr><th>Cost</th><td>") ||
      (isfinite(d3) ? pc_buf_printf(b, "$%.4f", d3)
                    : put(b, "unknown (no price for some LM)")) ||
      put(b, "</td></tr>\n<tr><th>Time</th><td>") ||
      put_num(b, d4 / 1000.0, 1) ||
      put(b, " s</td></tr>\n<tr><th>Stopped by</th><td>"))
    return NOMEM;
  if (stop) {
    if (esc(b, stop) ||
        (pc_json_str(r, "stop_reason") &&
         (put(b, ": ") || esc(b, pc_json_str(r, "stop_reason")))) ||
        put(b, "; the best state found so far was kept"))
      return NOMEM;
  } else if (put(b, "nothing: the search ran to its end")) {
    return NOMEM;
  }
  return put(b, "</td></tr>\n</table>\n</section>\n");
}

/* ---- score per trial --------------------------------------------------- */

/* The first bytes of `s`, at most `max`, cut at a UTF-8 character
 * boundary. */
static size_t cut_len(const char *s, size_t max)
{
  size_t n = strnlen(s, max + 1);

  if (n <= max)
    return n;
  n = max;
  while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
    n--;
  return n;
}

/* A tooltip for trial t: "trial 12: label: 43.33". */
static int tooltip(pc_buf *t, const struct trial *tr)
{
  pc_buf_reset(t);
  if (pc_buf_printf(t, "trial %.0f", tr->x) ||
      (tr->label && (pc_buf_puts(t, ": ") ||
                     pc_buf_append(t, tr->label,
                                   cut_len(tr->label, LABEL_MAX)))) ||
      pc_buf_printf(t, ": %.2f", tr->score))
    return NOMEM;
  return PC_OK;
}

/* The markers of the score chart: all of them, or for a large run the
 * lowest and highest score of each group in each column of pixels. */
static int score_markers(pc_buf *b, const pc__svg_plot *p,
                         const struct trials *ts, size_t *drawn)
{
  size_t finite = 0, cols, *lo = NULL, *hi = NULL;
  pc_buf tip;
  char cls[16];
  int rc = NOMEM;

  *drawn = 0;
  pc_buf_init(&tip, 4096);
  for (size_t i = 0; i < ts->n; i++)
    finite += isfinite(ts->t[i].score);
  if (finite <= MARKERS_MAX) {
    for (size_t i = 0; i < ts->n; i++) {
      const struct trial *t = &ts->t[i];

      if (!isfinite(t->score))
        continue;
      snprintf(cls, sizeof(cls), "g%d", t->group);
      if (tooltip(&tip, t) ||
          pc__svg_marker(b, t->group, pc__svg_px(p, t->x),
                         pc__svg_py(p, t->score), cls, tip.data))
        goto out;
      (*drawn)++;
    }
    rc = PC_OK;
    goto out;
  }
  cols = MARKERS_MAX / (2 * (size_t)ts->n_groups);
  if (!(lo = pc_malloc(cols * (size_t)ts->n_groups * sizeof(*lo))) ||
      !(hi = pc_malloc(cols * (size_t)ts->n_groups * sizeof(*hi))))
    goto out;
  for (size_t k = 0; k < cols * (size_t)ts->n_groups; k++)
    lo[k] = hi[k] = SIZE_MAX;
  for (size_t i = 0; i < ts->n; i++) {
    const struct trial *t = &ts->t[i];
    double f = (t->x - p->xlo) / (p->xhi - p->xlo);
    size_t c, k;

    if (!isfinite(t->score))
      continue;
    c = f <= 0 ? 0 : f >= 1 ? cols - 1 : (size_t)(f * (double)cols);
    k = c * (size_t)ts->n_groups + (size_t)t->group;
    if (lo[k] == SIZE_MAX || t->score < ts->t[lo[k]].score)
      lo[k] = i;
    if (hi[k] == SIZE_MAX || t->score > ts->t[hi[k]].score)
      hi[k] = i;
  }
  for (size_t k = 0; k < cols * (size_t)ts->n_groups; k++) {
    size_t pick[2] = {lo[k], hi[k]};

    for (int j = 0; j < (pick[0] == pick[1] ? 1 : 2); j++) {
      const struct trial *t;

      if (pick[j] == SIZE_MAX)
        continue;
      t = &ts->t[pick[j]];
      snprintf(cls, sizeof(cls), "g%d", t->group);
      if (tooltip(&tip, t) ||
          pc__svg_marker(b, t->group, pc__svg_px(p, t->x),
                         pc__svg_py(p, t->score), cls, tip.data))
        goto out;
      (*drawn)++;
    }
  }
  rc = PC_OK;
out:
  pc_free(lo);
  pc_free(hi);
  pc_buf_free(&tip);
  return rc;
}

/* The best-so-far step line over the full-set trials. */
static int best_line(pc_buf *b, const pc__svg_plot *p,
                     const struct trials *ts)
{
  double *xy = NULL, best = NAN, last_x = NAN;
  size_t n = 0;
  int rc;

  if (ts->n && !(xy = pc_malloc(ts->n * 4 * sizeof(*xy) + 4 * sizeof(*xy))))
    return NOMEM;
  for (size_t i = 0; i < ts->n; i++) {
    const struct trial *t = &ts->t[i];

    if (!isfinite(t->score) || !is_full(ts, t))
      continue;
    last_x = t->x;
    if (isfinite(best) && t->score <= best)
      continue;
    if (isfinite(best)) {  /* step: along at the old best, then up */
      xy[2 * n] = pc__svg_px(p, t->x);
      xy[2 * n + 1] = pc__svg_py(p, best);
      n++;
    }
    best = t->score;
    xy[2 * n] = pc__svg_px(p, t->x);
    xy[2 * n + 1] = pc__svg_py(p, best);
    n++;
  }
  if (n && isfinite(last_x)) {
    /* Carry the best to the last trial of the run. */
    xy[2 * n] = pc__svg_px(p, fmax(last_x, ts->t[ts->n - 1].x));
    xy[2 * n + 1] = pc__svg_py(p, best);
    n++;
  }
  rc = pc__svg_polyline(b, xy, n, "best");
  pc_free(xy);
  return rc;
}

/* The legend at (x, y): one marker per group, the best line, the
 * baseline. */
static int score_legend(pc_buf *b, double x, double y,
                        const struct trials *ts, int has_base)
{
  char cls[16];

  for (int g = 0; g < ts->n_groups; g++, y += 18) {
    snprintf(cls, sizeof(cls), "g%d", g);
    if (pc__svg_marker(b, g, x + 6, y - 4, cls, NULL) ||
        pc__svg_text(b, x + 18, y, NULL, NULL,
                     g == GROUPS_MAX - 1 && ts->overflow
                       ? "other kinds" : ts->group_name[g]))
      return NOMEM;
  }
  if (pc__svg_line(b, x, y - 4, x + 14, y - 4, "best") ||
      pc__svg_text(b, x + 18, y, NULL, NULL, "best so far"))
    return NOMEM;
  y += 18;
  if (has_base && (pc__svg_line(b, x, y - 4, x + 14, y - 4, "base") ||
                   pc__svg_text(b, x + 18, y, NULL, NULL, "baseline")))
    return NOMEM;
  return PC_OK;
}

static int section_scores(pc_buf *b, const struct json_object *r,
                          const struct trials *ts)
{
  pc__svg_plot p = {64, 16, 540, 250, 0, 0, 0, 0, 0, 0};
  double base, lo = INFINITY, hi = -INFINITY;
  size_t drawn = 0, finite = 0;
  int has_base = num(member(r, "baseline"), "score", &base);

  if (put(b, "<section id=\"scores\">\n<h2>Score per trial</h2>\n"
             "<p class=\"note\">One mark per trial (x: trial number, y: "
             "its score; shape and colour: its kind or split). The solid "
             "line is the best so far among the trials scored on the "
             "full set (the largest n); the dashed line is the baseline."
             "</p>\n"))
    return NOMEM;
  for (size_t i = 0; i < ts->n; i++)
    if (isfinite(ts->t[i].score)) {
      lo = fmin(lo, ts->t[i].score);
      hi = fmax(hi, ts->t[i].score);
      finite++;
    }
  if (has_base) {
    lo = fmin(lo, base);
    hi = fmax(hi, base);
  }
  if (!(lo <= hi))
    lo = hi = NAN;
  /* A margin, so no mark or line sits on the frame. */
  p.ylo = lo - (hi - lo) * 0.04;
  p.yhi = hi + (hi - lo) * 0.04;
  pc__svg_nice_range(&p.ylo, &p.yhi, 5, &p.ystep);
  p.xlo = ts->n ? ts->t[0].x : 0;
  p.xhi = ts->n ? ts->t[ts->n - 1].x : 1;
  for (size_t i = 0; i < ts->n; i++) {
    p.xlo = fmin(p.xlo, ts->t[i].x);
    p.xhi = fmax(p.xhi, ts->t[i].x);
  }
  pc__svg_nice_range(&p.xlo, &p.xhi, 8, &p.xstep);
  if (p.xstep < 1) {  /* trial numbers are whole */
    p.xstep = 1;
    p.xlo = floor(p.xlo);
    p.xhi = ceil(p.xhi);
  }
  if (pc__svg_open(b, 760, 310, "Score per trial") ||
      pc__svg_axes(b, &p, "trial", "score", 1))
    return NOMEM;
  if (has_base &&
      (pc__svg_line(b, p.left, pc__svg_py(&p, base), p.left + p.width,
                    pc__svg_py(&p, base), "base")))
    return NOMEM;
  if (!finite &&
      pc__svg_text(b, p.left + p.width / 2, p.top + p.height / 2,
                   "middle", "label", ts->n ? "No trial has a score"
                                            : "No trials were recorded"))
    return NOMEM;
  if (score_markers(b, &p, ts, &drawn) || best_line(b, &p, ts) ||
      score_legend(b, p.left + p.width + 24, p.top + 10, ts, has_base) ||
      pc__svg_close(b))
    return NOMEM;
  if (drawn < finite &&
      pc_buf_printf(b, "<p class=\"note\">%zu scored trials; to keep the "
                       "page small the chart marks the lowest and highest "
                       "score of each kind in each of %zu columns (%zu "
                       "marks).</p>\n", finite,
                    MARKERS_MAX / (2 * (size_t)ts->n_groups), drawn))
    return NOMEM;
  return put(b, "</section>\n");
}

/* ---- calls and cost over time ----------------------------------------- */

enum { SPENT_CALLS, SPENT_METRIC_CALLS, SPENT_COST };

static double spent_of(const struct trial *t, int which)
{
  return which == SPENT_CALLS ? t->calls
         : which == SPENT_METRIC_CALLS ? t->metric_calls : t->cost;
}

/* The polyline of one spent counter (`which`) against elapsed time, the
 * counter's range lo..hi spanning the plot's height; at most
 * LINE_POINTS_MAX points (every k-th trial and the last). */
static int time_line(pc_buf *b, const pc__svg_plot *p,
                     const struct trials *ts, int which, double lo,
                     double hi, const char *cls)
{
  size_t stride = ts->n / LINE_POINTS_MAX + 1, n = 0;
  double *xy = pc_malloc((LINE_POINTS_MAX + 2) * 2 * sizeof(*xy));
  int rc;

  if (!xy)
    return NOMEM;
  for (size_t i = 0; i < ts->n; i++) {
    const struct trial *t = &ts->t[i];
    double v = spent_of(t, which);

    if ((i % stride && i != ts->n - 1) || !isfinite(v) ||
        !isfinite(t->elapsed) || n > LINE_POINTS_MAX)
      continue;
    xy[2 * n] = pc__svg_px(p, t->elapsed);
    xy[2 * n + 1] = p->top + p->height - (v - lo) / (hi - lo) * p->height;
    n++;
  }
  rc = pc__svg_polyline(b, xy, n, cls);
  pc_free(xy);
  return rc;
}

static int section_usage(pc_buf *b, const struct trials *ts)
{
  pc__svg_plot p = {64, 16, 540, 250, 0, 0, 0, 0, 0, 0};
  double clo = 0, chi = -INFINITY, cstep = 0;
  size_t timed = 0;
  int has_cost = 0;

  if (put(b, "<section id=\"usage\">\n<h2>Calls and cost over time</h2>\n"
             "<p class=\"note\">What had been spent when each trial was "
             "recorded: LM calls (cache hits included) and metric calls "
             "on the left axis, dollars on the right when every price is "
             "known; x is the time since the search began.</p>\n"))
    return NOMEM;
  p.xlo = 0;
  p.xhi = 0;
  p.ylo = 0;
  p.yhi = 0;
  for (size_t i = 0; i < ts->n; i++) {
    const struct trial *t = &ts->t[i];

    if (!isfinite(t->elapsed))
      continue;
    timed++;
    p.xhi = fmax(p.xhi, t->elapsed);
    if (isfinite(t->calls))
      p.yhi = fmax(p.yhi, t->calls);
    if (isfinite(t->metric_calls))
      p.yhi = fmax(p.yhi, t->metric_calls);
    if (isfinite(t->cost)) {
      has_cost = 1;
      chi = fmax(chi, t->cost);
    }
  }
  pc__svg_nice_range(&p.xlo, &p.xhi, 8, &p.xstep);
  pc__svg_nice_range(&p.ylo, &p.yhi, 5, &p.ystep);
  if (has_cost)
    pc__svg_nice_range(&clo, &chi, 5, &cstep);
  if (pc__svg_open(b, 760, 310, "Calls and cost over time") ||
      pc__svg_axes(b, &p, "elapsed (s)", "calls", 0) ||
      (has_cost && pc__svg_axis_right(b, &p, clo, chi, cstep, "cost ($)")))
    return NOMEM;
  if (!timed &&
      pc__svg_text(b, p.left + p.width / 2, p.top + p.height / 2,
                   "middle", "label", ts->n ? "The trials carry no times"
                                            : "No trials were recorded"))
    return NOMEM;
  if (time_line(b, &p, ts, SPENT_CALLS, p.ylo, p.yhi,
                "calls") ||
      time_line(b, &p, ts, SPENT_METRIC_CALLS, p.ylo,
                p.yhi, "metric") ||
      (has_cost && time_line(b, &p, ts, SPENT_COST, clo,
                             chi, "cost")))
    return NOMEM;
  {
    double x = p.left + p.width + 70, y = p.top + 10;

    if (pc__svg_line(b, x, y - 4, x + 16, y - 4, "calls") ||
        pc__svg_text(b, x + 20, y, NULL, NULL, "LM calls") ||
        pc__svg_line(b, x, y + 14, x + 16, y + 14, "metric") ||
        pc__svg_text(b, x + 20, y + 18, NULL, NULL, "metric calls") ||
        (has_cost && (pc__svg_line(b, x, y + 32, x + 16, y + 32, "cost") ||
                      pc__svg_text(b, x + 20, y + 36, NULL, NULL,
                                   "cost"))))
      return NOMEM;
  }
  if (pc__svg_close(b))
    return NOMEM;
  if (!has_cost && timed &&
      put(b, "<p class=\"note\">Cost unknown: the config has no price "
             "for some LM.</p>\n"))
    return NOMEM;
  return put(b, "</section>\n");
}

/* ---- MIPROv2: (instruction, demo set) heatmaps -------------------------- */

struct cell {
  double sum, full_sum;
  int n, full_n;
};

/* What colours a heatmap cell: its mean minibatch score, else (a search
 * without minibatches) its full score. */
static double cell_value(const struct cell *g)
{
  if (g->n)
    return g->sum / g->n;
  return g->full_n ? g->full_sum / g->full_n : NAN;
}

/* An index of a combo's params entry: a whole number, or -1 when null or
 * missing (no demos); 0 when it is not usable at all. */
static int index_of(const struct json_object *o, const char *key, int *out)
{
  const struct json_object *v = member(o, key);
  double d;

  *out = -1;
  if (!v)
    return 1;
  if (!num_of(v, &d) || d < -1 || d > 1e6 || d != floor(d))
    return 0;
  *out = (int)d;
  return 1;
}

/* The light-to-dark blue of t in [0, 1] as "#rrggbb". */
static void heat_colour(double t, char out[8])
{
  static const int from[3] = {0xef, 0xf5, 0xfb}, to[3] = {0x08, 0x45, 0x94};
  int c[3];

  if (!isfinite(t))
    t = 0.5;
  t = fmin(1, fmax(0, t));
  for (int k = 0; k < 3; k++)
    c[k] = (int)lround(from[k] + (to[k] - from[k]) * t);
  snprintf(out, 8, "#%02x%02x%02x", c[0], c[1], c[2]);
}

/* One predictor's heatmap. */
static int heatmap(pc_buf *b, const struct json_object *combos,
                   const char *path)
{
  int imin = INT32_MAX, imax = -2, jmin = INT32_MAX, jmax = -2;
  int ni, nj, cut = 0, rc = NOMEM;
  double lo = INFINITY, hi = -INFINITY;
  struct cell *grid = NULL;
  pc_buf tip;

  pc_buf_init(&tip, 4096);
  for (size_t c = 0; c < len_of(combos); c++) {
    const struct json_object *e = member(member(at(combos, c), "params"),
                                         path);
    int i, j;

    if (!e || !index_of(e, "instruction", &i) || !index_of(e, "demos", &j))
      continue;
    imin = i < imin ? i : imin;
    imax = i > imax ? i : imax;
    jmin = j < jmin ? j : jmin;
    jmax = j > jmax ? j : jmax;
  }
  if (imax < imin || jmax < jmin) {
    rc = PC_OK;
    goto out;
  }
  ni = imax - imin + 1;
  nj = jmax - jmin + 1;
  if (ni > GRID_MAX || nj > GRID_MAX) {
    cut = 1;
    ni = ni > GRID_MAX ? GRID_MAX : ni;
    nj = nj > GRID_MAX ? GRID_MAX : nj;
  }
  if (!(grid = pc_calloc((size_t)ni * (size_t)nj, sizeof(*grid))))
    goto out;
  for (size_t c = 0; c < len_of(combos); c++) {
    const struct json_object *combo = at(combos, c);
    const struct json_object *e = member(member(combo, "params"), path);
    struct cell *g;
    double m, f;
    int i, j;

    if (!e || !index_of(e, "instruction", &i) ||
        !index_of(e, "demos", &j) || i - imin >= ni || j - jmin >= nj)
      continue;
    g = &grid[(size_t)(i - imin) * (size_t)nj + (size_t)(j - jmin)];
    if (num(combo, "mean", &m)) {
      g->sum += m;
      g->n++;
    }
    if (num(combo, "full_score", &f)) {
      g->full_sum += f;
      g->full_n++;
    }
  }
  for (int k = 0; k < ni * nj; k++)
    if (grid[k].n || grid[k].full_n) {
      lo = fmin(lo, cell_value(&grid[k]));
      hi = fmax(hi, cell_value(&grid[k]));
    }
  {
    double cw = nj > 20 ? 22 : 44, ch = ni > 20 ? 16 : 26;
    double left = 64, top = 36;
    double w = left + cw * nj + 20, h = top + ch * ni + 60;
    char fill[8], t[32];

    if (w < 400)
      w = 400;
    if (put(b, "<h3>") || esc(b, path) || put(b, "</h3>\n") ||
        pc__svg_open(b, w, h, "Mean score per instruction and demo set") ||
        pc__svg_text(b, left + cw * nj / 2, 14, "middle", "label",
                     "demo set"))
      goto out;
    for (int j = 0; j < nj; j++) {
      if (jmin + j < 0)
        snprintf(t, sizeof(t), "none");
      else
        snprintf(t, sizeof(t), "%d", jmin + j);
      if (pc__svg_text(b, left + cw * (j + 0.5), top - 4, "middle", NULL, t))
        goto out;
    }
    if (pc_buf_printf(b, "<text transform=\"translate(16 %.1f) "
                         "rotate(-90)\" text-anchor=\"middle\" "
                         "class=\"label\">instruction</text>\n",
                      top + ch * ni / 2))
      goto out;
    for (int i = 0; i < ni; i++) {
      if (imin + i < 0)
        snprintf(t, sizeof(t), "none");
      else
        snprintf(t, sizeof(t), "%d", imin + i);
      if (pc__svg_text(b, left - 6, top + ch * (i + 0.5) + 4, "end", NULL,
                       t))
        goto out;
      for (int j = 0; j < nj; j++) {
        const struct cell *g = &grid[(size_t)i * (size_t)nj + (size_t)j];
        double x = left + cw * j, y = top + ch * i, m;

        if (!g->n && !g->full_n) {
          if (pc__svg_rect(b, x, y, cw - 1, ch - 1, "empty", NULL, NULL))
            goto out;
          continue;
        }
        m = cell_value(g);
        heat_colour(hi > lo ? (m - lo) / (hi - lo) : 0.5, fill);
        pc_buf_reset(&tip);
        if (pc_buf_printf(&tip, "instruction %d, demo set %d: ", imin + i,
                          jmin + j) ||
            (g->n ? pc_buf_printf(&tip, "mean %.2f over %d",
                                  g->sum / g->n, g->n)
                  : pc_buf_puts(&tip, "no minibatch mean")) ||
            (g->full_n && pc_buf_printf(&tip, "; full score %.2f",
                                        g->full_sum / g->full_n)) ||
            pc__svg_rect(b, x, y, cw - 1, ch - 1, NULL, fill, tip.data))
          goto out;
        if (g->full_n) {
          double tcol = hi > lo ? (m - lo) / (hi - lo) : 0.5;

          snprintf(t, sizeof(t), "%.1f", g->full_sum / g->full_n);
          if (pc__svg_text(b, x + (cw - 1) / 2, y + ch / 2 + 3, "middle",
                           tcol > 0.55 ? "cell light" : "cell", t))
            goto out;
        }
      }
    }
    /* The colour scale: five swatches from the lowest mean to the
     * highest. */
    for (int k = 0; k < 5; k++) {
      heat_colour(k / 4.0, fill);
      if (pc__svg_rect(b, left + 24.0 * k, top + ch * ni + 16, 22, 12, NULL,
                       fill, NULL))
        goto out;
    }
    snprintf(t, sizeof(t), "%.2f", isfinite(lo) ? lo : 0);
    if (pc__svg_text(b, left - 4, top + ch * ni + 26, "end", NULL, t))
      goto out;
    snprintf(t, sizeof(t), "%.2f", isfinite(hi) ? hi : 0);
    if (pc__svg_text(b, left + 124, top + ch * ni + 26, NULL, NULL, t) ||
        pc__svg_text(b, left, top + ch * ni + 48, NULL, "note",
                     "colour: minibatch mean (else full score); "
                     "number: full score") ||
        pc__svg_close(b))
      goto out;
  }
  if (cut && put(b, "<p class=\"note\">Only the first 60 instruction and "
                    "demo-set indexes are shown.</p>\n"))
    goto out;
  rc = PC_OK;
out:
  pc_free(grid);
  pc_buf_free(&tip);
  return rc;
}

static int section_combos(pc_buf *b, const struct json_object *rep)
{
  const struct json_object *combos = array(rep, "combos");
  const char *paths[PREDICTORS_MAX];
  int n = 0, more = 0;

  if (!len_of(combos))
    return PC_OK;
  /* The predictors, in order of first appearance. */
  for (size_t c = 0; c < len_of(combos); c++) {
    const struct json_object *params = member(at(combos, c), "params");

    if (!params || !json_object_is_type(params, json_type_object))
      continue;
    json_object_object_foreach((struct json_object *)params, key, val) {
      int k;

      (void)val;
      for (k = 0; k < n; k++)
        if (!strcmp(paths[k], key))
          break;
      if (k < n)
        continue;
      if (n == PREDICTORS_MAX)
        more = 1;
      else
        paths[n++] = key;
    }
  }
  if (put(b, "<section id=\"combos\">\n<h2>Instruction and demo-set "
             "combinations</h2>\n<p class=\"note\">Per predictor, the mean "
             "minibatch score of each (instruction, demo set) pair the "
             "search tried, averaged over the combinations that used it; "
             "the number in a cell is its full-set score when it had one."
             "</p>\n"))
    return NOMEM;
  for (int k = 0; k < n; k++)
    if (heatmap(b, combos, paths[k]))
      return NOMEM;
  if (more && put(b, "<p class=\"note\">Only the first 20 predictors are "
                     "shown.</p>\n"))
    return NOMEM;
  return put(b, "</section>\n");
}

/* ---- GEPA: the candidate tree and the Pareto front --------------------- */

struct node {
  double index;        /* the candidate's "index" */
  double score;        /* val_score, NAN when missing */
  int gen, row;
  int front;           /* on the Pareto front */
  int wins;            /* val examples it is best on */
  const struct json_object *parents;  /* borrowed, may be NULL */
};

/* The position in `nodes` of candidate index `ix`, or -1. */
static int node_of(const struct node *nodes, int n, double ix)
{
  for (int k = 0; k < n; k++)
    if (nodes[k].index == ix)
      return k;
  return -1;
}

static int tree_svg(pc_buf *b, struct node *nodes, int n, double best)
{
  int gens = 0, rows = 0, *per_gen = NULL, rc = NOMEM;
  double dx = 110, dy, left = 50, top = 30;
  char t[64];

  for (int k = 0; k < n; k++)
    gens = nodes[k].gen + 1 > gens ? nodes[k].gen + 1 : gens;
  if (!(per_gen = pc_calloc((size_t)gens + 1, sizeof(*per_gen))))
    return NOMEM;
  for (int k = 0; k < n; k++) {
    nodes[k].row = per_gen[nodes[k].gen]++;
    rows = per_gen[nodes[k].gen] > rows ? per_gen[nodes[k].gen] : rows;
  }
  dy = rows > 40 ? 40 : 46;
  if (pc__svg_open(b, left + dx * gens + 60, top + dy * rows + 40,
                   "Candidate tree"))
    goto out;
  for (int g = 0; g < gens; g++) {
    snprintf(t, sizeof(t), "generation %d", g);
    if (pc__svg_text(b, left + dx * g, 14, "middle", NULL, t))
      goto out;
  }
  /* Edges first, under the nodes. */
  for (int k = 0; k < n; k++) {
    size_t np = len_of(nodes[k].parents);

    for (size_t q = 0; q < np; q++) {
      double ix;
      int p;

      if (!num_of(at(nodes[k].parents, q), &ix) ||
          (p = node_of(nodes, k, ix)) < 0)
        continue;
      /* From the parent's right side to the child's left side. */
      if (pc__svg_line(b, left + dx * nodes[p].gen + 12,
                       top + dy * nodes[p].row + 14,
                       left + dx * nodes[k].gen - 12,
                       top + dy * nodes[k].row + 14,
                       np > 1 ? "edge merge" : "edge"))
        goto out;
    }
  }
  for (int k = 0; k < n; k++) {
    const struct node *d = &nodes[k];
    double x = left + dx * d->gen, y = top + dy * d->row + 14;
    const char *cls = d->index == best ? "node top"
                      : d->front ? "node front" : "node";

    if (pc_buf_printf(b, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"12\" "
                         "class=\"%s\"><title>candidate %.0f", x, y, cls,
                      d->index) ||
        (isfinite(d->score) ? pc_buf_printf(b, ", val score %.2f", d->score)
                            : pc_buf_puts(b, ", no val score")) ||
        pc_buf_printf(b, "%s%s</title></circle>\n",
                      d->index == best ? " (best)" : "",
                      d->front ? " (on the front)" : ""))
      goto out;
    snprintf(t, sizeof(t), "%.0f", d->index);
    if (pc__svg_text(b, x, y + 4, "middle", NULL, t))
      goto out;
    if (isfinite(d->score)) {
      snprintf(t, sizeof(t), "%.2f", d->score);
      if (pc__svg_text(b, x, y + 23, "middle", "cell", t))
        goto out;
    }
  }
  rc = pc__svg_close(b);
out:
  pc_free(per_gen);
  return rc;
}

static int pareto_svg(pc_buf *b, const struct node *nodes, int n,
                      size_t n_val)
{
  int bars = 0;
  double left = 90, top = 24, width = 420, rowh = 18;
  char t[64];

  for (int k = 0; k < n; k++)
    bars += nodes[k].wins > 0;
  if (!bars)
    return put(b, "<p class=\"note\">No candidate is best on any val "
                  "example.</p>\n");
  if (bars > BARS_MAX)
    bars = BARS_MAX;
  if (pc__svg_open(b, left + width + 80, top + rowh * bars + 30,
                   "Val examples each candidate is best on"))
    return NOMEM;
  snprintf(t, sizeof(t), "val examples it is best on (of %zu)", n_val);
  if (pc__svg_text(b, left, 14, NULL, "label", t))
    return NOMEM;
  for (int k = 0, row = 0; k < n && row < bars; k++) {
    const struct node *d = &nodes[k];
    double y = top + rowh * row, w;

    if (d->wins <= 0)
      continue;
    w = n_val ? width * d->wins / (double)n_val : 0;
    snprintf(t, sizeof(t), "candidate %.0f", d->index);
    if (pc__svg_text(b, left - 6, y + 12, "end", NULL, t) ||
        pc__svg_rect(b, left, y + 2, w < 1 ? 1 : w, rowh - 4, "bar", NULL,
                     NULL))
      return NOMEM;
    snprintf(t, sizeof(t), "%d", d->wins);
    if (pc__svg_text(b, left + w + 4, y + 12, NULL, NULL, t))
      return NOMEM;
    row++;
  }
  return pc__svg_close(b);
}

static int section_candidates(pc_buf *b, const struct json_object *rep)
{
  const struct json_object *cands = array(rep, "candidates");
  const struct json_object *front = array(rep, "pareto_front");
  struct node *nodes = NULL;
  double best = NAN;
  int n, has_parents = 0, rc = NOMEM;

  for (size_t k = 0; k < len_of(cands); k++)
    has_parents |= member(at(cands, k), "parents") != NULL;
  if (!len_of(cands) || !front || !has_parents)
    return PC_OK;
  n = len_of(cands) > TREE_MAX ? TREE_MAX : (int)len_of(cands);
  if (!(nodes = pc_calloc((size_t)n, sizeof(*nodes))))
    return NOMEM;
  num(rep, "best_index", &best);
  for (int k = 0; k < n; k++) {
    const struct json_object *c = at(cands, (size_t)k);
    struct node *d = &nodes[k];

    if (!num(c, "index", &d->index))
      d->index = k;
    num(c, "val_score", &d->score);
    d->parents = array(c, "parents");
    /* The generation: one more than the deepest earlier parent. */
    for (size_t q = 0; q < len_of(d->parents); q++) {
      double ix;
      int p;

      if (num_of(at(d->parents, q), &ix) &&
          (p = node_of(nodes, k, ix)) >= 0 && nodes[p].gen + 1 > d->gen)
        d->gen = nodes[p].gen + 1;
    }
  }
  for (size_t v = 0; v < len_of(front); v++) {
    const struct json_object *on = array(at(front, v), "candidates");

    for (size_t q = 0; q < len_of(on); q++) {
      double ix;
      int p;

      if (num_of(at(on, q), &ix) && (p = node_of(nodes, n, ix)) >= 0) {
        nodes[p].front = 1;
        nodes[p].wins++;
      }
    }
  }
  if (put(b, "<section id=\"candidates\">\n<h2>Candidate tree</h2>\n"
             "<p class=\"note\">Each candidate by generation, with an "
             "edge from each parent (dashed: a merge of two); the number "
             "inside is its index, beside it its val score. Gold: the "
             "best candidate; green: on the Pareto front (best on at "
             "least one val example).</p>\n") ||
      tree_svg(b, nodes, n, best))
    goto out;
  if (len_of(cands) > TREE_MAX &&
      pc_buf_printf(b, "<p class=\"note\">The first %d of %zu candidates "
                       "are drawn.</p>\n", TREE_MAX, len_of(cands)))
    goto out;
  if (put(b, "<h2>Pareto front</h2>\n<p class=\"note\">For each "
             "candidate on the front, the number of val examples on which "
             "it has the best score (ties count for each).</p>\n") ||
      pareto_svg(b, nodes, n, len_of(front)) || put(b, "</section>\n"))
    goto out;
  rc = PC_OK;
out:
  pc_free(nodes);
  return rc;
}

/* ---- tables ------------------------------------------------------------ */

static int trial_row(pc_buf *b, const struct json_object *o,
                     const struct trial *t)
{
  const char *kind = pc_json_str(o, "kind"), *split = pc_json_str(o, "split");

  if (put(b, "<tr><td class=\"n\">") || put_num(b, t->x, 0) ||
      put(b, "</td><td>") || pc__html_escape_max(b, t->label, LABEL_MAX) ||
      put(b, "</td><td>") || esc(b, split ? split : "") ||
      (kind && split && put(b, " / ")) || esc(b, kind ? kind : "") ||
      put(b, "</td><td class=\"n\">") || put_num(b, t->score, 2) ||
      put(b, "</td><td class=\"n\">") || put_num(b, t->n, 0) ||
      put(b, "</td><td class=\"n\">") || put_num(b, t->calls, 0) ||
      put(b, "</td><td class=\"n\">") || put_num(b, t->elapsed, 2) ||
      put(b, "</td></tr>\n"))
    return NOMEM;
  return PC_OK;
}

static int section_trials(pc_buf *b, const struct json_object *r,
                          const struct trials *ts)
{
  const struct json_object *a = array(r, "trials");

  if (put(b, "<section id=\"trials\">\n<h2>Trials</h2>\n"))
    return NOMEM;
  if (!ts->n)
    return put(b, "<p>No trials were recorded.</p>\n</section>\n");
  if (put(b, "<table>\n<tr><th>trial</th><th>label</th><th>split / kind"
             "</th><th>score</th><th>n</th><th>calls</th><th>elapsed (s)"
             "</th></tr>\n"))
    return NOMEM;
  for (size_t i = 0; i < ts->n; i++) {
    if (ts->n > PC_REPORT_TABLE_MAX && i == PC_REPORT_TABLE_EDGE) {
      if (pc_buf_printf(b, "<tr><td colspan=\"7\" class=\"note\">%zu "
                           "trials left out here; report.json has every "
                           "one.</td></tr>\n",
                        ts->n - 2 * PC_REPORT_TABLE_EDGE))
        return NOMEM;
      i = ts->n - PC_REPORT_TABLE_EDGE;
    }
    if (trial_row(b, at(a, i), &ts->t[i]))
      return NOMEM;
  }
  return put(b, "</table>\n</section>\n");
}

static int section_state(pc_buf *b, const struct json_object *r)
{
  const struct json_object *state = member(r, "state");

  if (!state || !json_object_is_type(state, json_type_object))
    return PC_OK;
  if (put(b, "<section id=\"state\">\n<h2>Final state</h2>\n"))
    return NOMEM;
  json_object_object_foreach((struct json_object *)state, path, entry) {
    const struct json_object *demos = array(entry, "demos");
    const char *ins = pc_json_str(entry, "instructions");

    if (put(b, "<h3>") || esc(b, path) || put(b, "</h3>\n<pre>") ||
        esc(b, ins ? ins : "(unchanged)") ||
        pc_buf_printf(b, "</pre>\n<p>%zu demos</p>\n", len_of(demos)))
      return NOMEM;
    if (len_of(demos) &&
        (put(b, "<details><summary>demos</summary><pre>") ||
         put_json(b, demos, PC_JSON_TEXT_PRETTY, RAW_MAX) ||
         put(b, "</pre></details>\n")))
      return NOMEM;
  }
  return put(b, "</section>\n");
}

static int section_optimizer_report(pc_buf *b, const struct json_object *r)
{
  const struct json_object *rep = member(r, "optimizer_report");

  if (!rep)
    return PC_OK;
  if (put(b, "<section id=\"optimizer-report\">\n<h2>Optimizer report</h2>"
             "\n<details><summary>the optimizer's own report "
             "(JSON)</summary><pre>") ||
      put_json(b, rep, PC_JSON_TEXT_PRETTY, RAW_MAX) ||
      put(b, "</pre></details>\n</section>\n"))
    return NOMEM;
  return PC_OK;
}

/* ---- the page ---------------------------------------------------------- */

int pc_report_html(const struct json_object *report, pc_buf *out,
                   pc_error *err)
{
  const struct json_object *rep = member(report, "optimizer_report");
  const char *name = pc_json_str(member(report, "program"), "name");
  const char *run = pc_json_str(report, "run_id");
  struct trials ts;
  int rc = NOMEM;

  if (trials_read(report, &ts))
    goto out;
  if (put(out, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n"
               "<meta charset=\"utf-8\">\n<title>promptc compile report") ||
      (run && (put(out, ": ") || esc(out, run))) ||
      put(out, "</title>\n<style>\n") || put(out, style))
    goto out;
  for (int g = 0; g < GROUPS_MAX; g++)
    if (pc_buf_printf(out, ".g%d{fill:%s;stroke:#fff;stroke-width:.5}\n", g,
                      group_fill[g]))
      goto out;
  if (put(out, "</style>\n</head>\n<body>\n<h1>Compile report: ") ||
      esc(out, name ? name : "program") || put(out, "</h1>\n") ||
      section_summary(out, report) ||
      section_scores(out, report, &ts) ||
      section_usage(out, &ts) ||
      section_combos(out, rep) ||
      section_candidates(out, rep) ||
      section_trials(out, report, &ts) ||
      section_state(out, report) ||
      section_optimizer_report(out, report) ||
      put(out, "<p class=\"note\">" PC_REPORT_SCHEMA ", written by promptc "
               "compile; report.json holds the same data.</p>\n"
               "</body>\n</html>\n"))
    goto out;
  rc = PC_OK;
out:
  pc_free(ts.t);
  if (rc)
    pc_error_set(err, rc, "report.html: out of memory");
  return rc;
}

/* report_svg.c - the SVG and HTML writing helpers of report.html: ranges
 * and ticks, axes, lines, markers, text, and escaping. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "report_svg.h"

void pc__svg_nice_range(double *lo, double *hi, int ticks, double *step)
{
  double a = *lo, z = *hi, raw, mag, norm, s;

  if (!isfinite(a) || !isfinite(z)) {
    a = 0;
    z = 1;
  }
  if (a > z) {
    double t = a;

    a = z;
    z = t;
  }
  if (z - a < 1e-9 * (fabs(a) + fabs(z)) || z - a < 1e-12) {
    /* One value: show it in the middle of a range around it. */
    double pad = fabs(a) > 1e-12 ? fabs(a) * 0.1 : 1.0;

    a -= pad;
    z += pad;
  }
  if (ticks < 1)
    ticks = 1;
  raw = (z - a) / ticks;
  mag = pow(10.0, floor(log10(raw)));
  norm = raw / mag;
  s = (norm < 1.5 ? 1 : norm < 3 ? 2 : norm < 7 ? 5 : 10) * mag;
  *lo = floor(a / s + 1e-9) * s;
  *hi = ceil(z / s - 1e-9) * s;
  if (*hi <= *lo)
    *hi = *lo + s;
  *step = s;
}

double pc__svg_px(const pc__svg_plot *p, double x)
{
  return p->left + (x - p->xlo) / (p->xhi - p->xlo) * p->width;
}

double pc__svg_py(const pc__svg_plot *p, double y)
{
  return p->top + p->height - (y - p->ylo) / (p->yhi - p->ylo) * p->height;
}

void pc__svg_fmt(char out[32], double v, double step)
{
  int decimals = 0;

  if (step > 0 && step < 1) {
    decimals = (int)ceil(-log10(step) - 1e-9);
    if (decimals > 6)
      decimals = 6;
  }
  if (fabs(v) < step * 1e-6)
    v = 0;  /* no "-0" */
  snprintf(out, 32, "%.*f", decimals, v);
}

int pc__svg_open(pc_buf *b, double width, double height, const char *label)
{
  if (pc_buf_printf(b, "<svg xmlns=\"http://www.w3.org/2000/svg\" "
                       "width=\"%.0f\" height=\"%.0f\" viewBox=\"0 0 %.0f "
                       "%.0f\" role=\"img\" aria-label=\"",
                    width, height, width, height) ||
      pc__html_escape(b, label) || pc_buf_puts(b, "\"><title>") ||
      pc__html_escape(b, label) || pc_buf_puts(b, "</title>\n"))
    return PC_E_NOMEM;
  return PC_OK;
}

int pc__svg_close(pc_buf *b)
{
  return pc_buf_puts(b, "</svg>\n");
}

int pc__svg_text(pc_buf *b, double x, double y, const char *anchor,
                 const char *cls, const char *text)
{
  if (pc_buf_printf(b, "<text x=\"%.1f\" y=\"%.1f\"", x, y) ||
      (anchor && strcmp(anchor, "start") &&
       pc_buf_printf(b, " text-anchor=\"%s\"", anchor)) ||
      (cls && pc_buf_printf(b, " class=\"%s\"", cls)) ||
      pc_buf_putc(b, '>') || pc__html_escape(b, text) ||
      pc_buf_puts(b, "</text>\n"))
    return PC_E_NOMEM;
  return PC_OK;
}

int pc__svg_line(pc_buf *b, double x1, double y1, double x2, double y2,
                 const char *cls)
{
  return pc_buf_printf(b, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" "
                          "y2=\"%.1f\" class=\"%s\"/>\n",
                       x1, y1, x2, y2, cls);
}

int pc__svg_rect(pc_buf *b, double x, double y, double w, double h,
                 const char *cls, const char *fill, const char *title)
{
  if (pc_buf_printf(b, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" "
                       "height=\"%.1f\"", x, y, w, h) ||
      (cls && pc_buf_printf(b, " class=\"%s\"", cls)) ||
      (fill && pc_buf_printf(b, " fill=\"%s\"", fill)))
    return PC_E_NOMEM;
  if (!title)
    return pc_buf_puts(b, "/>\n");
  if (pc_buf_puts(b, "><title>") || pc__html_escape(b, title) ||
      pc_buf_puts(b, "</title></rect>\n"))
    return PC_E_NOMEM;
  return PC_OK;
}

int pc__svg_polyline(pc_buf *b, const double *xy, size_t n, const char *cls)
{
  if (!n)
    return PC_OK;
  if (pc_buf_printf(b, "<polyline class=\"%s\" fill=\"none\" points=\"",
                    cls))
    return PC_E_NOMEM;
  for (size_t i = 0; i < n; i++)
    if (pc_buf_printf(b, "%s%.1f,%.1f", i ? " " : "", xy[2 * i],
                      xy[2 * i + 1]))
      return PC_E_NOMEM;
  return pc_buf_puts(b, "\"/>\n");
}

int pc__svg_marker(pc_buf *b, int shape, double x, double y, const char *cls,
                   const char *title)
{
  const char *end = title ? ">" : "/>\n";
  int rc;

  switch (shape % PC__SVG_SHAPES) {
  case 0:
    rc = pc_buf_printf(b, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3.5\" "
                          "class=\"%s\"%s", x, y, cls, end);
    break;
  case 1:
    rc = pc_buf_printf(b, "<rect x=\"%.1f\" y=\"%.1f\" width=\"6\" "
                          "height=\"6\" class=\"%s\"%s",
                       x - 3, y - 3, cls, end);
    break;
  case 2:
    rc = pc_buf_printf(b, "<path d=\"M%.1f %.1fl4 7h-8z\" class=\"%s\"%s",
                       x, y - 4.5, cls, end);
    break;
  case 3:
    rc = pc_buf_printf(b, "<path d=\"M%.1f %.1fl4 4.5-4 4.5-4-4.5z\" "
                          "class=\"%s\"%s", x, y - 4.5, cls, end);
    break;
  case 4:
    rc = pc_buf_printf(b, "<path d=\"M%.1f %.1fl4-7h-8z\" class=\"%s\"%s",
                       x, y + 4.5, cls, end);
    break;
  default:
    rc = pc_buf_printf(b, "<path d=\"M%.1f %.1fh7v3h-7zM%.1f %.1fh3v7h-3z\""
                          " class=\"%s\"%s", x - 3.5, y - 1.5, x - 1.5,
                       y - 3.5, cls, end);
    break;
  }
  if (rc || !title)
    return rc;
  if (pc_buf_puts(b, "<title>") || pc__html_escape(b, title) ||
      pc_buf_printf(b, "</title></%s>\n",
                    shape % PC__SVG_SHAPES == 0 ? "circle"
                    : shape % PC__SVG_SHAPES == 1 ? "rect" : "path"))
    return PC_E_NOMEM;
  return PC_OK;
}

/* The tick indexes k with lo <= k * step <= hi (at most 100). */
static void tick_span(double lo, double hi, double step, long *k0, long *k1)
{
  *k0 = (long)ceil(lo / step - 1e-9);
  *k1 = (long)floor(hi / step + 1e-9);
  if (*k1 - *k0 > 100)
    *k1 = *k0 + 100;
}

int pc__svg_axes(pc_buf *b, const pc__svg_plot *p, const char *xlabel,
                 const char *ylabel, int x_integer)
{
  double bottom = p->top + p->height, right = p->left + p->width;
  char t[32];
  long k0, k1;

  if (pc_buf_puts(b, "<g class=\"axes\">\n"))
    return PC_E_NOMEM;
  tick_span(p->ylo, p->yhi, p->ystep, &k0, &k1);
  for (long k = k0; k <= k1; k++) {
    double v = (double)k * p->ystep, y = pc__svg_py(p, v);

    pc__svg_fmt(t, v, p->ystep);
    if (pc__svg_line(b, p->left, y, right, y, "grid") ||
        pc__svg_line(b, p->left - 4, y, p->left, y, "tick") ||
        pc__svg_text(b, p->left - 6, y + 4, "end", NULL, t))
      return PC_E_NOMEM;
  }
  tick_span(p->xlo, p->xhi, p->xstep, &k0, &k1);
  for (long k = k0; k <= k1; k++) {
    double v = (double)k * p->xstep, x = pc__svg_px(p, v);

    if (x_integer && fabs(v - round(v)) > 1e-9)
      continue;
    pc__svg_fmt(t, v, p->xstep);
    if (pc__svg_line(b, x, bottom, x, bottom + 4, "tick") ||
        pc__svg_text(b, x, bottom + 16, "middle", NULL, t))
      return PC_E_NOMEM;
  }
  if (pc__svg_line(b, p->left, bottom, right, bottom, "frame") ||
      pc__svg_line(b, p->left, p->top, p->left, bottom, "frame") ||
      pc__svg_text(b, p->left + p->width / 2, bottom + 34, "middle",
                   "label", xlabel) ||
      pc_buf_printf(b, "<text transform=\"translate(%.1f %.1f) "
                       "rotate(-90)\" text-anchor=\"middle\" "
                       "class=\"label\">", p->left - 44,
                    p->top + p->height / 2) ||
      pc__html_escape(b, ylabel) || pc_buf_puts(b, "</text>\n</g>\n"))
    return PC_E_NOMEM;
  return PC_OK;
}

int pc__svg_axis_right(pc_buf *b, const pc__svg_plot *p, double lo,
                       double hi, double step, const char *label)
{
  double right = p->left + p->width;
  char t[32];
  long k0, k1;

  if (pc_buf_puts(b, "<g class=\"axes\">\n") ||
      pc__svg_line(b, right, p->top, right, p->top + p->height, "frame"))
    return PC_E_NOMEM;
  tick_span(lo, hi, step, &k0, &k1);
  for (long k = k0; k <= k1; k++) {
    double v = (double)k * step;
    double y = p->top + p->height - (v - lo) / (hi - lo) * p->height;

    pc__svg_fmt(t, v, step);
    if (pc__svg_line(b, right, y, right + 4, y, "tick") ||
        pc__svg_text(b, right + 6, y + 4, "start", NULL, t))
      return PC_E_NOMEM;
  }
  if (pc_buf_printf(b, "<text transform=\"translate(%.1f %.1f) "
                       "rotate(90)\" text-anchor=\"middle\" "
                       "class=\"label\">", right + 50,
                    p->top + p->height / 2) ||
      pc__html_escape(b, label) || pc_buf_puts(b, "</text>\n</g>\n"))
    return PC_E_NOMEM;
  return PC_OK;
}

/* Append s[0..n) escaped. */
static int escape_n(pc_buf *b, const char *s, size_t n)
{
  size_t run = 0;

  for (size_t i = 0; i < n; i++) {
    const char *ent;

    switch (s[i]) {
    case '&': ent = "&amp;"; break;
    case '<': ent = "&lt;"; break;
    case '>': ent = "&gt;"; break;
    case '"': ent = "&quot;"; break;
    case '\'': ent = "&#39;"; break;
    default: ent = NULL; break;
    }
    if (!ent)
      continue;
    if (pc_buf_append(b, s + run, i - run) || pc_buf_puts(b, ent))
      return PC_E_NOMEM;
    run = i + 1;
  }
  return pc_buf_append(b, s + run, n - run);
}

int pc__html_escape(pc_buf *b, const char *s)
{
  return s ? escape_n(b, s, strlen(s)) : PC_OK;
}

int pc__html_escape_max(pc_buf *b, const char *s, size_t max)
{
  size_t n;

  if (!s)
    return PC_OK;
  n = strlen(s);
  if (n <= max)
    return escape_n(b, s, n);
  n = max;
  while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
    n--;  /* s[n] starts the first character left out */
  if (escape_n(b, s, n) || pc_buf_puts(b, "..."))
    return PC_E_NOMEM;
  return PC_OK;
}

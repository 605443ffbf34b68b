/*
 * report_svg.h - small SVG and HTML writing helpers for report.html
 * (internal to report_html.c and report_svg.c).
 *
 * Each appends markup to a pc_buf and returns PC_OK or PC_E_NOMEM (out of
 * memory or past the buffer's cap). Coordinates are pixels written with
 * one decimal; styling is by class names that report_html.c's style sheet
 * defines, so the markup stays short.
 */
#ifndef PC_REPORT_SVG_H
#define PC_REPORT_SVG_H

#include <stddef.h>

#include "buf.h"

/* A plot area in pixels and the data range it shows. */
typedef struct pc__svg_plot {
  double left, top, width, height;  /* the area inside the axes */
  double xlo, xhi, ylo, yhi;        /* data at its edges */
  double xstep, ystep;              /* tick spacing in data units */
} pc__svg_plot;

/* Marker shapes, chosen by group number modulo PC__SVG_SHAPES. */
#define PC__SVG_SHAPES 6

/*
 * pc__svg_nice_range - widen [*lo, *hi] to round tick values about
 * `ticks` apart and store the spacing in *step. Copes with an empty range
 * (lo == hi is widened around the value), with NaN or infinite bounds
 * (taken as 0..1) and with lo > hi (swapped).
 */
void pc__svg_nice_range(double *lo, double *hi, int ticks, double *step);

/* The pixel position of data value x (or y) in `p`. */
double pc__svg_px(const pc__svg_plot *p, double x);
double pc__svg_py(const pc__svg_plot *p, double y);

/* A tick label for `v` with as many decimals as `step` needs; `out` has
 * room for 32 bytes. */
void pc__svg_fmt(char out[32], double v, double step);

/* <svg ...> with the size, a viewBox, role="img" and `label` as its
 * aria-label and <title> (escaped); and </svg>. */
int pc__svg_open(pc_buf *b, double width, double height, const char *label);
int pc__svg_close(pc_buf *b);

/* <text> at (x, y); `anchor` "start", "middle" or "end" (NULL: start);
 * `cls` may be NULL; the text is escaped. */
int pc__svg_text(pc_buf *b, double x, double y, const char *anchor,
                 const char *cls, const char *text);

/* <line> from (x1, y1) to (x2, y2) with class `cls`. */
int pc__svg_line(pc_buf *b, double x1, double y1, double x2, double y2,
                 const char *cls);

/* <rect>; `fill` (a colour such as "#aabbcc") overrides the class's when
 * not NULL; `title` (escaped) becomes a tooltip when not NULL. */
int pc__svg_rect(pc_buf *b, double x, double y, double w, double h,
                 const char *cls, const char *fill, const char *title);

/* <polyline> through `n` points, `xy` holding x0, y0, x1, y1, ... in
 * pixels. Nothing is written for n == 0. */
int pc__svg_polyline(pc_buf *b, const double *xy, size_t n,
                     const char *cls);

/* A marker of `shape` (0 .. PC__SVG_SHAPES - 1) centred on (x, y), about
 * 7 px across, with class `cls` and an optional tooltip. */
int pc__svg_marker(pc_buf *b, int shape, double x, double y, const char *cls,
                   const char *title);

/*
 * pc__svg_axes - the frame of `p`: grid lines and ticks at multiples of
 * the steps, tick labels, and the axis labels (escaped) under the x axis
 * and along the y axis. With `x_integer` only whole x ticks are drawn.
 */
int pc__svg_axes(pc_buf *b, const pc__svg_plot *p, const char *xlabel,
                 const char *ylabel, int x_integer);

/* A second y axis on the right edge of `p` for the range lo..hi (already
 * made nice, with `step`), with its label. */
int pc__svg_axis_right(pc_buf *b, const pc__svg_plot *p, double lo,
                       double hi, double step, const char *label);

/* Append `s` with & < > " ' escaped as entities, so it is safe in text
 * and in quoted attributes. NULL appends nothing. */
int pc__html_escape(pc_buf *b, const char *s);

/* The same for at most `max` bytes of `s`, cut at a UTF-8 character
 * boundary and followed by "..." when cut. */
int pc__html_escape_max(pc_buf *b, const char *s, size_t max);

#endif

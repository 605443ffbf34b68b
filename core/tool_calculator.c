/* tool_calculator.c - the built-in "calculator" tool: a safe arithmetic
 * evaluator that reads numbers and operators and never runs code. */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tool.h"

#define EXPR_MAX 1000   /* bytes of an expression */
#define DEPTH_MAX 64    /* nested parentheses, calls and unary signs */

/* A value: an integer while every step stays exact, else a float (as
 * Python computes with int and float). */
typedef struct num {
  int is_int;
  long long i;
  double f;
} num;

typedef struct parser {
  const char *s;
  size_t pos, len;
  int depth;
  pc_error *err;
} parser;

static int fail(parser *p, const char *fmt, ...) PC_PRINTF(2, 3);

static int fail(parser *p, const char *fmt, ...)
{
  char msg[160];
  va_list ap;

  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  return pc_error_set(p->err, PC_E_INVALID_ARG, "%s", msg);
}

static double as_f(num a)
{
  return a.is_int ? (double)a.i : a.f;
}

static num make_i(long long i)
{
  num n = {1, i, 0.0};
  return n;
}

static num make_f(double f)
{
  num n = {0, 0, f};
  return n;
}

static void skip_ws(parser *p)
{
  while (p->pos < p->len && (p->s[p->pos] == ' ' || p->s[p->pos] == '\t' ||
                             p->s[p->pos] == '\n' || p->s[p->pos] == '\r'))
    p->pos++;
}

/* Non-zero when the next text is `tok` (skipped then). */
static int accept(parser *p, const char *tok)
{
  size_t n = strlen(tok);

  skip_ws(p);
  if (p->pos + n <= p->len && !memcmp(p->s + p->pos, tok, n)) {
    p->pos += n;
    return 1;
  }
  return 0;
}

static int finite_or_fail(parser *p, num *v)
{
  if (!v->is_int && !isfinite(v->f))
    return fail(p, "%s", "overflow: the result is too large");
  return PC_OK;
}

static int expr(parser *p, num *out);

static int number(parser *p, num *out)
{
  size_t start = p->pos;
  int is_float = 0;
  char buf[64];

  while (p->pos < p->len && p->s[p->pos] >= '0' && p->s[p->pos] <= '9')
    p->pos++;
  if (p->pos < p->len && p->s[p->pos] == '.') {
    is_float = 1;
    p->pos++;
    while (p->pos < p->len && p->s[p->pos] >= '0' && p->s[p->pos] <= '9')
      p->pos++;
  }
  if (p->pos == start + (size_t)is_float)
    return fail(p, "unexpected '%s'", ".");
  if (p->pos < p->len && (p->s[p->pos] == 'e' || p->s[p->pos] == 'E')) {
    size_t save = p->pos++;

    if (p->pos < p->len && (p->s[p->pos] == '+' || p->s[p->pos] == '-'))
      p->pos++;
    if (p->pos < p->len && p->s[p->pos] >= '0' && p->s[p->pos] <= '9') {
      is_float = 1;
      while (p->pos < p->len && p->s[p->pos] >= '0' && p->s[p->pos] <= '9')
        p->pos++;
    } else {
      p->pos = save;
    }
  }
  if (p->pos - start >= sizeof(buf))
    return fail(p, "%s", "a number is too long");
  memcpy(buf, p->s + start, p->pos - start);
  buf[p->pos - start] = '\0';
  errno = 0;
  if (is_float) {
    *out = make_f(strtod(buf, NULL));
  } else {
    *out = make_i(strtoll(buf, NULL, 10));
    if (errno == ERANGE)
      return fail(p, "overflow: the number %s is too large", buf);
  }
  return finite_or_fail(p, out);
}

static double py_round_half_even(double x)
{
  double r = floor(x), d = x - r;

  if (d > 0.5 || (d == 0.5 && fmod(r, 2.0) != 0.0))
    r += 1.0;
  return r;
}

/* name(args): sqrt, abs, round, min, max. */
static int call_fn(parser *p, const char *name, num *out)
{
  num args[16];
  size_t n = 0;
  int rc;

  if (!accept(p, "("))
    return fail(p, "unknown name '%s'", name);
  if (strcmp(name, "sqrt") && strcmp(name, "abs") && strcmp(name, "round") &&
      strcmp(name, "min") && strcmp(name, "max"))
    return fail(p, "unknown function '%s'", name);
  if (!accept(p, ")")) {
    do {
      if (n == sizeof(args) / sizeof(args[0]))
        return fail(p, "%s(): too many arguments", name);
      rc = expr(p, &args[n++]);
      if (rc)
        return rc;
    } while (accept(p, ","));
    if (!accept(p, ")"))
      return fail(p, "%s(: expected ')'", name);
  }
  if (!strcmp(name, "sqrt") || !strcmp(name, "abs")) {
    if (n != 1)
      return fail(p, "%s() takes exactly one argument", name);
    if (!strcmp(name, "abs")) {
      if (args[0].is_int && args[0].i == LLONG_MIN)
        return fail(p, "%s", "overflow: the result is too large");
      *out = args[0].is_int ? make_i(llabs(args[0].i))
                            : make_f(fabs(args[0].f));
    } else {
      if (as_f(args[0]) < 0)
        return fail(p, "%s", "math domain error: sqrt of a negative number");
      *out = make_f(sqrt(as_f(args[0])));
    }
  } else if (!strcmp(name, "round")) {
    if (n < 1 || n > 2 || (n == 2 && !args[1].is_int))
      return fail(p, "%s() takes a number and an optional integer", name);
    if (n == 1 && args[0].is_int) {
      *out = args[0];
    } else if (n == 1) {
      double r = py_round_half_even(args[0].f);

      if (fabs(r) >= 9.2e18)
        return fail(p, "%s", "overflow: the result is too large");
      *out = make_i((long long)r);
    } else {
      double scale;

      if (args[1].i < -15 || args[1].i > 15)
        return fail(p, "%s(): the digit count must be from -15 to 15",
                    name);
      scale = pow(10.0, (double)args[1].i);
      *out = args[0].is_int && args[1].i >= 0
               ? args[0]
               : make_f(py_round_half_even(as_f(args[0]) * scale) / scale);
    }
  } else if (!strcmp(name, "min") || !strcmp(name, "max")) {
    int want_max = !strcmp(name, "max");

    if (n < 1)
      return fail(p, "%s() needs at least one argument", name);
    *out = args[0];
    for (size_t i = 1; i < n; i++) {
      double a = as_f(args[i]), b = as_f(*out);

      if (args[i].is_int && out->is_int ? (want_max ? args[i].i > out->i
                                                    : args[i].i < out->i)
                                        : (want_max ? a > b : a < b))
        *out = args[i];
    }
  } else {
    return fail(p, "unknown function '%s'", name);
  }
  return finite_or_fail(p, out);
}

static int atom(parser *p, num *out)
{
  unsigned char c;
  int rc;

  skip_ws(p);
  if (p->pos >= p->len)
    return fail(p, "%s", "unexpected end of the expression");
  c = (unsigned char)p->s[p->pos];
  if (c == '(') {
    p->pos++;
    if (++p->depth > DEPTH_MAX)
      return fail(p, "%s", "too deeply nested");
    rc = expr(p, out);
    p->depth--;
    if (!rc && !accept(p, ")"))
      rc = fail(p, "%s", "expected ')'");
    return rc;
  }
  if ((c >= '0' && c <= '9') || c == '.')
    return number(p, out);
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_') {
    char name[32];
    size_t n = 0;

    while (p->pos < p->len && n + 1 < sizeof(name) &&
           ((p->s[p->pos] >= 'a' && p->s[p->pos] <= 'z') ||
            (p->s[p->pos] >= 'A' && p->s[p->pos] <= 'Z') ||
            (p->s[p->pos] >= '0' && p->s[p->pos] <= '9') ||
            p->s[p->pos] == '_'))
      name[n++] = p->s[p->pos++];
    name[n] = '\0';
    if (++p->depth > DEPTH_MAX)
      return fail(p, "%s", "too deeply nested");
    rc = call_fn(p, name, out);
    p->depth--;
    return rc;
  }
  {
    char what[2] = {(char)c, '\0'};

    return fail(p, "unexpected '%s'", what);
  }
}

static int unary(parser *p, num *out);

/* Integer power with overflow checks; exp >= 0. */
static int ipow(long long base, long long exp, long long *out)
{
  long long r = 1;

  while (exp > 0) {
    if (exp & 1) {
      if (__builtin_mul_overflow(r, base, &r))
        return -1;
    }
    exp >>= 1;
    if (exp > 0 && __builtin_mul_overflow(base, base, &base))
      return -1;
  }
  *out = r;
  return 0;
}

/* atom ('**' | '^') unary: right-associative, binds tighter than a
 * unary minus on its left (-2**2 is -4), as in Python. */
static int power(parser *p, num *out)
{
  num rhs;
  int rc = atom(p, out);

  if (rc)
    return rc;
  if (!accept(p, "**") && !accept(p, "^"))
    return PC_OK;
  rc = unary(p, &rhs);
  if (rc)
    return rc;
  if (out->is_int && rhs.is_int && rhs.i >= 0) {
    long long r;

    if (ipow(out->i, rhs.i, &r))
      return fail(p, "%s", "overflow: the result is too large");
    *out = make_i(r);
    return PC_OK;
  }
  if (as_f(*out) == 0.0 && as_f(rhs) < 0)
    return fail(p, "%s", "division by zero: 0 to a negative power");
  if (as_f(*out) < 0 && as_f(rhs) != floor(as_f(rhs)))
    return fail(p, "%s", "math domain error: a negative number to a "
                "fractional power");
  *out = make_f(pow(as_f(*out), as_f(rhs)));
  return finite_or_fail(p, out);
}

static int unary(parser *p, num *out)
{
  int rc, neg = 0;

  if (accept(p, "-"))
    neg = 1;
  else if (!accept(p, "+"))
    return power(p, out);
  if (++p->depth > DEPTH_MAX)
    return fail(p, "%s", "too deeply nested");
  rc = unary(p, out);
  p->depth--;
  if (rc || !neg)
    return rc;
  if (out->is_int) {
    if (out->i == LLONG_MIN)
      return fail(p, "%s", "overflow: the result is too large");
    out->i = -out->i;
  } else {
    out->f = -out->f;
  }
  return PC_OK;
}

/* Python's floor division and modulo on ints. */
static long long floor_div(long long a, long long b)
{
  long long q = a / b;

  if ((a % b != 0) && ((a < 0) != (b < 0)))
    q--;
  return q;
}

static int term(parser *p, num *out)
{
  int rc = unary(p, out);

  while (!rc) {
    num rhs;
    int op;

    skip_ws(p);
    if (accept(p, "//"))
      op = 'f';
    else if (p->pos < p->len && p->s[p->pos] == '*' &&
             !(p->pos + 1 < p->len && p->s[p->pos + 1] == '*'))
      op = '*', p->pos++;
    else if (accept(p, "/"))
      op = '/';
    else if (accept(p, "%"))
      op = '%';
    else
      break;
    rc = unary(p, &rhs);
    if (rc)
      break;
    if (op != '*' && as_f(rhs) == 0.0)
      return fail(p, "%s", op == '%' ? "division by zero: modulo by zero"
                                     : "division by zero");
    if (out->is_int && rhs.is_int && op != '/') {
      long long r;

      if (op == '*') {
        if (__builtin_mul_overflow(out->i, rhs.i, &r))
          return fail(p, "%s", "overflow: the result is too large");
      } else if (out->i == LLONG_MIN && rhs.i == -1) {
        return fail(p, "%s", "overflow: the result is too large");
      } else if (op == 'f') {
        r = floor_div(out->i, rhs.i);
      } else {
        r = out->i - floor_div(out->i, rhs.i) * rhs.i;
      }
      *out = make_i(r);
    } else {
      double a = as_f(*out), b = as_f(rhs), r;

      if (op == '*')
        r = a * b;
      else if (op == '/')
        r = a / b;
      else if (op == 'f')
        r = floor(a / b);
      else {
        r = fmod(a, b);
        if (r != 0.0 && ((r < 0) != (b < 0)))
          r += b;
      }
      *out = make_f(r);
      rc = finite_or_fail(p, out);
    }
  }
  return rc;
}

static int expr(parser *p, num *out)
{
  int rc = term(p, out);

  while (!rc) {
    num rhs;
    int plus;

    if (accept(p, "+"))
      plus = 1;
    else if (accept(p, "-"))
      plus = 0;
    else
      break;
    rc = term(p, &rhs);
    if (rc)
      break;
    if (out->is_int && rhs.is_int) {
      long long r;

      if (plus ? __builtin_add_overflow(out->i, rhs.i, &r)
               : __builtin_sub_overflow(out->i, rhs.i, &r))
        return fail(p, "%s", "overflow: the result is too large");
      *out = make_i(r);
    } else {
      *out = make_f(plus ? as_f(*out) + as_f(rhs) : as_f(*out) - as_f(rhs));
      rc = finite_or_fail(p, out);
    }
  }
  return rc;
}

/* Python's repr of a float: the shortest text that reads back the same,
 * in exponent form below 1e-4 and from 1e16 on. */
static void float_repr(double f, char *out, size_t cap)
{
  char digits[40], *e;
  int prec, exp10;

  if (f == 0.0) {
    snprintf(out, cap, "%s", signbit(f) ? "-0.0" : "0.0");
    return;
  }
  for (prec = 0; prec < 17; prec++) {
    snprintf(digits, sizeof(digits), "%.*e", prec, f);
    if (strtod(digits, NULL) == f)
      break;
  }
  e = strchr(digits, 'e');
  exp10 = (int)strtol(e + 1, NULL, 10);
  if (exp10 < -4 || exp10 >= 16) {
    char mant[40];

    *e = '\0';
    snprintf(mant, sizeof(mant), "%s", digits);
    snprintf(out, cap, "%se%c%02d", mant, exp10 < 0 ? '-' : '+',
             exp10 < 0 ? -exp10 : exp10);
    return;
  }
  snprintf(out, cap, "%.*f", prec - exp10 > 0 ? prec - exp10 : 0, f);
  if (!strchr(out, '.')) {
    size_t n = strlen(out);

    if (n + 2 < cap)
      memcpy(out + n, ".0", 3);
  }
}

/*
 * pc__calculator_eval - evaluate `expr` and write the result as Python
 * prints it into out[0..cap). PC_E_INVALID_ARG with a message for a bad
 * expression, division by zero or overflow.
 */
int pc__calculator_eval(const char *text, char *out, size_t cap,
                        pc_error *err);

int pc__calculator_eval(const char *text, char *out, size_t cap,
                        pc_error *err)
{
  parser p;
  num v;
  int rc;

  memset(&p, 0, sizeof(p));
  p.s = text;
  p.len = strlen(text);
  p.err = err;
  if (p.len > EXPR_MAX)
    return pc_error_set(err, PC_E_INVALID_ARG, "the expression is longer "
                        "than %d characters", EXPR_MAX);
  rc = expr(&p, &v);
  if (rc)
    return rc;
  skip_ws(&p);
  if (p.pos < p.len) {
    char what[2] = {p.s[p.pos], '\0'};

    return fail(&p, "unexpected '%s'", what);
  }
  if (v.is_int)
    snprintf(out, cap, "%lld", v.i);
  else
    float_repr(v.f, out, cap);
  return PC_OK;
}

static int calc_call(void *inst, const pc_call *call, const char *args_json,
                     size_t args_len, const pc_text_sink *out, pc_error *err)
{
  struct json_object *args = NULL, *e;
  char result[64];
  const char *text;
  int rc = PC_OK;

  (void)inst;
  (void)call;
  args = json_tokener_parse(args_json);
  (void)args_len;
  if (!args || !json_object_object_get_ex(args, "expression", &e)) {
    rc = pc_error_set(err, PC_E_INVALID_ARG, "expected {\"expression\": "
                      "\"...\"}");
    goto out;
  }
  if (json_object_is_type(e, json_type_int) ||
      json_object_is_type(e, json_type_double))
    text = json_object_to_json_string_ext(e, JSON_C_TO_STRING_PLAIN);
  else if (json_object_is_type(e, json_type_string))
    text = json_object_get_string(e);
  else {
    rc = pc_error_set(err, PC_E_INVALID_ARG, "expression: expected a "
                      "string");
    goto out;
  }
  rc = pc__calculator_eval(text, result, sizeof(result), err);
  if (!rc && out->write(out->ctx, result, strlen(result)))
    rc = pc_error_set(err, PC_E_NOMEM, "out of memory");

out:
  if (args)
    json_object_put(args);
  return rc;
}

const pc_tool_iface pc__tool_calculator = {
  .hdr = PC_ABI_HEADER_INIT(pc_tool_iface),
  .name = "calculator",
  .description = "Evaluates an arithmetic expression (numbers, + - * / // "
                 "% ** and parentheses, sqrt, abs, round, min, max) and "
                 "returns the result.",
  .args_schema = "{\"expression\": {\"type\": \"string\"}}",
  .required_args = NULL,
  .create = NULL,
  .destroy = NULL,
  .call = calc_call,
};

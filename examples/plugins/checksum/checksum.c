/*
 * checksum: a VWMP plugin (stdio ABI v1) written in C.
 *
 * Handler `fnv1a` reads {"api_version": 1, "parameters": {"text": "..."}, ...}
 * from stdin and prints {"fnv1a64": "<16 hex digits>", "length": <bytes>}:
 * the 64-bit FNV-1a hash of the UTF-8 bytes of `text`, and their count.
 * Logs go to stderr. Exit status 2 means invalid input.
 *
 * The input is checked by a small recursive-descent JSON parser that
 * accepts the whole grammar (objects, arrays, strings with every escape,
 * numbers, literals), so a crafted value cannot be mistaken for a key.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Maximum stdin size in bytes; step inputs are small JSON documents. */
#define MAX_INPUT_BYTES (4u * 1024u * 1024u)

/* Maximum nesting of objects and arrays, which bounds the recursion. */
#define MAX_DEPTH 64

#define FNV_OFFSET_BASIS UINT64_C(0xcbf29ce484222325)
#define FNV_PRIME UINT64_C(0x100000001b3)

/* A growable byte string. */
struct bytes {
    unsigned char *data;
    size_t len;
    size_t cap;
};

struct parser {
    const unsigned char *text;
    size_t len;
    size_t pos;
};

/* Position of an object in the document, which decides the keys the parser extracts. */
enum level { LEVEL_OTHER, LEVEL_TOP, LEVEL_PARAMETERS };

/* Values the parser extracted from the document. */
struct step {
    int api_version_ok;
    int has_text;
    struct bytes text;
};

static void fail(const char *format, ...)
{
    va_list args;

    fputs("checksum: ", stderr);
    va_start(args, format);
    vfprintf(stderr, format, args);
    va_end(args);
    fputc('\n', stderr);
    exit(2);
}

static void bytes_push(struct bytes *b, unsigned char c)
{
    if (b->len == b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 64;
        unsigned char *data = realloc(b->data, cap);
        if (data == NULL)
            fail("out of memory");
        b->data = data;
        b->cap = cap;
    }
    b->data[b->len++] = c;
}

static void push_utf8(struct bytes *b, uint32_t cp)
{
    if (cp < 0x80) {
        bytes_push(b, (unsigned char)cp);
    } else if (cp < 0x800) {
        bytes_push(b, (unsigned char)(0xc0 | (cp >> 6)));
        bytes_push(b, (unsigned char)(0x80 | (cp & 0x3f)));
    } else if (cp < 0x10000) {
        bytes_push(b, (unsigned char)(0xe0 | (cp >> 12)));
        bytes_push(b, (unsigned char)(0x80 | ((cp >> 6) & 0x3f)));
        bytes_push(b, (unsigned char)(0x80 | (cp & 0x3f)));
    } else {
        bytes_push(b, (unsigned char)(0xf0 | (cp >> 18)));
        bytes_push(b, (unsigned char)(0x80 | ((cp >> 12) & 0x3f)));
        bytes_push(b, (unsigned char)(0x80 | ((cp >> 6) & 0x3f)));
        bytes_push(b, (unsigned char)(0x80 | (cp & 0x3f)));
    }
}

static void skip_space(struct parser *p)
{
    while (p->pos < p->len && strchr(" \t\r\n", p->text[p->pos]) != NULL && p->text[p->pos] != 0)
        p->pos++;
}

static int peek(const struct parser *p)
{
    return p->pos < p->len ? p->text[p->pos] : EOF;
}

static void expect(struct parser *p, char c)
{
    skip_space(p);
    if (peek(p) != (unsigned char)c)
        fail("invalid JSON at byte %zu: expected '%c'", p->pos, c);
    p->pos++;
}

static uint32_t parse_hex4(struct parser *p)
{
    uint32_t value = 0;

    for (int i = 0; i < 4; i++) {
        int c = peek(p);
        value <<= 4;
        if (c >= '0' && c <= '9')
            value |= (uint32_t)(c - '0');
        else if (c >= 'a' && c <= 'f')
            value |= (uint32_t)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            value |= (uint32_t)(c - 'A' + 10);
        else
            fail("invalid JSON at byte %zu: bad \\u escape", p->pos);
        p->pos++;
    }
    return value;
}

/* Decodes a \uXXXX escape (the "\u" already read), joining surrogate pairs. */
static uint32_t parse_unicode_escape(struct parser *p)
{
    uint32_t cp = parse_hex4(p);

    if (cp >= 0xdc00 && cp <= 0xdfff)
        fail("invalid JSON at byte %zu: unpaired low surrogate", p->pos);
    if (cp >= 0xd800 && cp <= 0xdbff) {
        uint32_t low;

        if (p->pos + 2 > p->len || p->text[p->pos] != '\\' || p->text[p->pos + 1] != 'u')
            fail("invalid JSON at byte %zu: unpaired high surrogate", p->pos);
        p->pos += 2;
        low = parse_hex4(p);
        if (low < 0xdc00 || low > 0xdfff)
            fail("invalid JSON at byte %zu: bad low surrogate", p->pos);
        cp = 0x10000 + ((cp - 0xd800) << 10) + (low - 0xdc00);
    }
    return cp;
}

/* Parses a string, decoding it into `out` unless `out` is NULL. */
static void parse_string(struct parser *p, struct bytes *out)
{
    struct bytes ignored = {0};

    if (out == NULL)
        out = &ignored;
    expect(p, '"');
    for (;;) {
        int c = peek(p);

        if (c == EOF)
            fail("invalid JSON: unterminated string");
        p->pos++;
        if (c == '"')
            break;
        if (c < 0x20)
            fail("invalid JSON at byte %zu: control character in string", p->pos - 1);
        if (c != '\\') {
            bytes_push(out, (unsigned char)c);
            continue;
        }

        c = peek(p);
        p->pos++;
        switch (c) {
        case '"': bytes_push(out, '"'); break;
        case '\\': bytes_push(out, '\\'); break;
        case '/': bytes_push(out, '/'); break;
        case 'b': bytes_push(out, '\b'); break;
        case 'f': bytes_push(out, '\f'); break;
        case 'n': bytes_push(out, '\n'); break;
        case 'r': bytes_push(out, '\r'); break;
        case 't': bytes_push(out, '\t'); break;
        case 'u': push_utf8(out, parse_unicode_escape(p)); break;
        default: fail("invalid JSON at byte %zu: unknown escape", p->pos - 1);
        }
    }
    free(ignored.data);
}

/* Parses a number loosely and returns whether it is exactly the token `1`. */
static int parse_number(struct parser *p)
{
    size_t start = p->pos;

    while (p->pos < p->len && strchr("+-0123456789.eE", p->text[p->pos]) != NULL &&
           p->text[p->pos] != 0)
        p->pos++;
    if (p->pos == start)
        fail("invalid JSON at byte %zu: unexpected character", start);
    return p->pos - start == 1 && p->text[start] == '1';
}

static void parse_literal(struct parser *p, const char *word)
{
    size_t n = strlen(word);

    if (p->pos + n > p->len || memcmp(p->text + p->pos, word, n) != 0)
        fail("invalid JSON at byte %zu: unexpected character", p->pos);
    p->pos += n;
}

static int key_is(const struct bytes *key, const char *name)
{
    return key->len == strlen(name) && memcmp(key->data, name, key->len) == 0;
}

static void parse_value(struct parser *p, int depth, enum level level, struct step *step);

static void parse_object(struct parser *p, int depth, enum level level, struct step *step)
{
    expect(p, '{');
    skip_space(p);
    if (peek(p) == '}') {
        p->pos++;
        return;
    }
    for (;;) {
        struct bytes key = {0};

        skip_space(p);
        parse_string(p, &key);
        expect(p, ':');
        skip_space(p);
        if (level == LEVEL_TOP && key_is(&key, "api_version") && peek(p) != '"') {
            step->api_version_ok = parse_number(p);
        } else if (level == LEVEL_TOP && key_is(&key, "parameters")) {
            if (peek(p) != '{')
                fail("field 'parameters' is not an object");
            parse_value(p, depth + 1, LEVEL_PARAMETERS, step);
        } else if (level == LEVEL_PARAMETERS && key_is(&key, "text")) {
            if (peek(p) != '"')
                fail("parameter 'text' is not a string; pass a string");
            step->text.len = 0;
            parse_string(p, &step->text);
            step->has_text = 1;
        } else {
            parse_value(p, depth + 1, LEVEL_OTHER, step);
        }
        free(key.data);

        skip_space(p);
        if (peek(p) == ',') {
            p->pos++;
            continue;
        }
        expect(p, '}');
        return;
    }
}

static void parse_array(struct parser *p, int depth, struct step *step)
{
    expect(p, '[');
    skip_space(p);
    if (peek(p) == ']') {
        p->pos++;
        return;
    }
    for (;;) {
        parse_value(p, depth + 1, LEVEL_OTHER, step);
        skip_space(p);
        if (peek(p) == ',') {
            p->pos++;
            continue;
        }
        expect(p, ']');
        return;
    }
}

static void parse_value(struct parser *p, int depth, enum level level, struct step *step)
{
    if (depth > MAX_DEPTH)
        fail("invalid JSON: nested deeper than %d levels", MAX_DEPTH);
    skip_space(p);
    switch (peek(p)) {
    case '{': parse_object(p, depth, level, step); break;
    case '[': parse_array(p, depth, step); break;
    case '"': parse_string(p, NULL); break;
    case 't': parse_literal(p, "true"); break;
    case 'f': parse_literal(p, "false"); break;
    case 'n': parse_literal(p, "null"); break;
    case EOF: fail("invalid JSON: unexpected end of input"); break;
    default: parse_number(p); break;
    }
}

static void read_stdin(struct bytes *input)
{
    unsigned char chunk[65536];
    size_t n;

    while ((n = fread(chunk, 1, sizeof chunk, stdin)) > 0) {
        if (input->len + n > MAX_INPUT_BYTES)
            fail("stdin is larger than %u bytes", MAX_INPUT_BYTES);
        for (size_t i = 0; i < n; i++)
            bytes_push(input, chunk[i]);
    }
    if (ferror(stdin))
        fail("failed to read stdin");
}

static uint64_t fnv1a64(const unsigned char *data, size_t len)
{
    uint64_t hash = FNV_OFFSET_BASIS;

    for (size_t i = 0; i < len; i++) {
        hash ^= data[i];
        hash *= FNV_PRIME;
    }
    return hash;
}

int main(int argc, char **argv)
{
    struct bytes input = {0};
    struct step step = {0};
    struct parser p;
    uint64_t hash;

    if (argc != 2 || strcmp(argv[1], "fnv1a") != 0)
        fail("unknown handler; this plugin has only 'fnv1a'");

    read_stdin(&input);
    p.text = input.data;
    p.len = input.len;
    p.pos = 0;
    skip_space(&p);
    if (peek(&p) != '{')
        fail("stdin is not a JSON object");
    parse_value(&p, 0, LEVEL_TOP, &step);
    skip_space(&p);
    if (p.pos != p.len)
        fail("invalid JSON at byte %zu: trailing data", p.pos);

    if (!step.api_version_ok)
        fail("missing or unsupported api_version; this plugin speaks version 1");
    if (!step.has_text)
        fail("missing parameter 'text'; pass it as a string");

    fprintf(stderr, "checksum: hashing %zu bytes\n", step.text.len);
    hash = fnv1a64(step.text.data, step.text.len);
    printf("{\"fnv1a64\": \"%016" PRIx64 "\", \"length\": %zu}\n", hash, step.text.len);
    if (fflush(stdout) != 0)
        fail("failed to write stdout");
    free(step.text.data);
    free(input.data);
    return 0;
}

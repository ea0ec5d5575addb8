#include "image_codecs.h"
#include <png.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    const uint8_t *data;
    size_t size;
    size_t position;
    ic_info *info;
} png_source;

static void read_bytes(png_structp png, png_bytep out, size_t count) {
    png_source *source = png_get_io_ptr(png);
    if (count > source->size - source->position) {
        png_error(png, "the file ends before its image data does (truncated)");
    }
    memcpy(out, source->data + source->position, count);
    source->position += count;
}

static void on_error(png_structp png, png_const_charp message) {
    png_source *source = png_get_error_ptr(png);
    snprintf(source->info->message, sizeof source->info->message, "%s", message);
    png_longjmp(png, 1);
}

// Ancillary-chunk warnings (a known-incorrect sRGB profile, a bad CRC in a text chunk)
// do not change the pixels: they are not printed.
static void on_warning(png_structp png, png_const_charp message) { (void)png; (void)message; }

// One decoder: header only when `out` is NULL.
static int run(const uint8_t *data, size_t size, ic_info *info, uint8_t *out, size_t out_size) {
    memset(info, 0, sizeof *info);
    if (size < 8 || png_sig_cmp(data, 0, 8) != 0) {
        snprintf(info->message, sizeof info->message, "not a PNG file (no PNG signature)");
        return -1;
    }
    png_source source = { data, size, 8, info };
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &source, on_error, on_warning);
    if (!png) {
        snprintf(info->message, sizeof info->message, "libpng could not start");
        return -1;
    }
    png_infop pinfo = png_create_info_struct(png);
    png_bytep *volatile rows = NULL;
    if (!pinfo || setjmp(png_jmpbuf(png))) {
        free(rows);
        png_destroy_read_struct(&png, pinfo ? &pinfo : NULL, NULL);
        if (!info->message[0]) snprintf(info->message, sizeof info->message, "libpng failed");
        return -1;
    }
    png_set_read_fn(png, &source, read_bytes);
    png_set_sig_bytes(png, 8);
    // libpng's own ceiling; the caller's pixel limit is checked before any decoding.
    png_set_user_limits(png, 1u << 20, 1u << 20);
    png_read_info(png, pinfo);
    info->width = png_get_image_width(png, pinfo);
    info->height = png_get_image_height(png, pinfo);
    info->bit_depth = png_get_bit_depth(png, pinfo);
    info->color_type = png_get_color_type(png, pinfo);
    info->interlaced = png_get_interlace_type(png, pinfo) != PNG_INTERLACE_NONE;

    png_set_palette_to_rgb(png);
    png_set_expand_gray_1_2_4_to_8(png);
    if (png_get_valid(png, pinfo, PNG_INFO_tRNS)) png_set_tRNS_to_alpha(png);
    png_set_strip_16(png);
    int passes = png_set_interlace_handling(png);
    (void)passes;
    png_read_update_info(png, pinfo);
    info->channels = png_get_channels(png, pinfo);
    size_t row_bytes = png_get_rowbytes(png, pinfo);
    if (row_bytes != (size_t)info->width * (size_t)info->channels) {
        png_error(png, "unexpected row size after conversion to 8 bits");
    }
    if (out) {
        if (out_size != row_bytes * info->height) png_error(png, "output buffer of the wrong size");
        rows = malloc(sizeof(png_bytep) * info->height);
        if (!rows) png_error(png, "out of memory for row pointers");
        for (uint32_t y = 0; y < info->height; y++) rows[y] = out + (size_t)y * row_bytes;
        png_read_image(png, rows);
        png_read_end(png, NULL);
        free(rows);
        rows = NULL;
    }
    png_destroy_read_struct(&png, &pinfo, NULL);
    return 0;
}

int ic_png_header(const uint8_t *data, size_t size, ic_info *info) { return run(data, size, info, NULL, 0); }

int ic_png_decode(const uint8_t *data, size_t size, ic_info *info, uint8_t *out, size_t out_size) {
    return run(data, size, info, out, out_size);
}

#include "image_codecs.h"
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jpeglib.h>

typedef struct {
    struct jpeg_error_mgr base;
    jmp_buf jump;
    ic_info *info;
} error_manager;

static void on_error(j_common_ptr cinfo) {
    error_manager *errors = (error_manager *)cinfo->err;
    char text[JMSG_LENGTH_MAX];
    cinfo->err->format_message(cinfo, text);
    snprintf(errors->info->message, sizeof errors->info->message, "%s", text);
    longjmp(errors->jump, 1);
}

// Level -1 is a corrupt-data warning: keep the first one's text; trace messages are dropped.
static void on_message(j_common_ptr cinfo, int level) {
    error_manager *errors = (error_manager *)cinfo->err;
    if (level < 0) {
        if (cinfo->err->num_warnings == 0) {
            char text[JMSG_LENGTH_MAX];
            cinfo->err->format_message(cinfo, text);
            snprintf(errors->info->message, sizeof errors->info->message, "%s", text);
        }
        cinfo->err->num_warnings++;
    }
}

// libjpeg's error handler, routed to on_error / on_message (the caller still does the setjmp:
// it must be in the frame that longjmp returns to).
static struct jpeg_error_mgr *use_errors(error_manager *errors, ic_info *info) {
    struct jpeg_error_mgr *err = jpeg_std_error(&errors->base);
    errors->base.error_exit = on_error;
    errors->base.emit_message = on_message;
    errors->info = info;
    return err;
}

static int run(const uint8_t *data, size_t size, ic_info *info, uint8_t *out, size_t out_size) {
    memset(info, 0, sizeof *info);
    if (size < 3 || data[0] != 0xFF || data[1] != 0xD8 || data[2] != 0xFF) {
        snprintf(info->message, sizeof info->message, "not a JPEG file (no JPEG start-of-image marker)");
        return -1;
    }
    struct jpeg_decompress_struct cinfo;
    error_manager errors;
    cinfo.err = use_errors(&errors, info);
    if (setjmp(errors.jump)) {
        jpeg_destroy_decompress(&cinfo);
        return -1;
    }
    jpeg_create_decompress(&cinfo);
    jpeg_mem_src(&cinfo, data, (unsigned long)size);
    jpeg_read_header(&cinfo, TRUE);
    info->width = cinfo.image_width;
    info->height = cinfo.image_height;
    info->bit_depth = cinfo.data_precision;
    info->color_type = cinfo.num_components;
    info->interlaced = cinfo.progressive_mode;
    info->channels = cinfo.num_components == 1 ? 1 : 3;
    if (out) {
        cinfo.out_color_space = info->channels == 1 ? JCS_GRAYSCALE : JCS_RGB;
        jpeg_start_decompress(&cinfo);
        size_t row_bytes = (size_t)cinfo.output_width * (size_t)cinfo.output_components;
        if (cinfo.output_components != info->channels || cinfo.output_width != info->width
            || cinfo.output_height != info->height || out_size != row_bytes * info->height) {
            snprintf(info->message, sizeof info->message, "unexpected output size from libjpeg");
            jpeg_destroy_decompress(&cinfo);
            return -1;
        }
        while (cinfo.output_scanline < cinfo.output_height) {
            JSAMPROW row = out + (size_t)cinfo.output_scanline * row_bytes;
            jpeg_read_scanlines(&cinfo, &row, 1);
        }
        jpeg_finish_decompress(&cinfo);
    }
    long warnings = cinfo.err->num_warnings;
    jpeg_destroy_decompress(&cinfo);
    if (warnings > 0) return -1;  // the message holds the first warning
    return 0;
}

int ic_jpeg_header(const uint8_t *data, size_t size, ic_info *info) { return run(data, size, info, NULL, 0); }

int ic_jpeg_decode(const uint8_t *data, size_t size, ic_info *info, uint8_t *out, size_t out_size) {
    return run(data, size, info, out, out_size);
}

// Encoding, for tests and sample data only (the trainer never writes JPEG): baseline JPEG
// at `quality`, into a buffer libjpeg allocates (freed by the caller with ic_free).
int ic_jpeg_encode(const uint8_t *pixels, uint32_t width, uint32_t height, int channels, int quality,
                   uint8_t **out, unsigned long *out_size, ic_info *info) {
    memset(info, 0, sizeof *info);
    struct jpeg_compress_struct cinfo;
    error_manager errors;
    cinfo.err = use_errors(&errors, info);
    *out = NULL;
    *out_size = 0;
    if (setjmp(errors.jump)) {
        jpeg_destroy_compress(&cinfo);
        return -1;
    }
    jpeg_create_compress(&cinfo);
    jpeg_mem_dest(&cinfo, out, out_size);
    cinfo.image_width = width;
    cinfo.image_height = height;
    cinfo.input_components = channels;
    cinfo.in_color_space = channels == 1 ? JCS_GRAYSCALE : JCS_RGB;
    jpeg_set_defaults(&cinfo);
    jpeg_set_quality(&cinfo, quality, TRUE);
    jpeg_start_compress(&cinfo, TRUE);
    while (cinfo.next_scanline < cinfo.image_height) {
        JSAMPROW row = (JSAMPROW)(pixels + (size_t)cinfo.next_scanline * width * channels);
        jpeg_write_scanlines(&cinfo, &row, 1);
    }
    jpeg_finish_compress(&cinfo);
    jpeg_destroy_compress(&cinfo);
    return 0;
}

void ic_free(void *p) { free(p); }

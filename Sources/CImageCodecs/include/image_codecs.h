#ifndef IMAGE_CODECS_H
#define IMAGE_CODECS_H
// PNG (libpng) and JPEG (libjpeg-turbo) decoding from memory for the Swift data readers.
// Both libraries report fatal errors by longjmp, which Swift cannot catch: these wrappers
// hold the setjmp and turn every failure into a return code and a message.
#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint32_t width;
    uint32_t height;
    /// Channels of the decoded 8-bit pixels: 1 gray, 2 gray+alpha, 3 RGB, 4 RGBA.
    int channels;
    /// As stored in the file (PNG: bit depth and colour type; JPEG: 8 and the component count).
    int bit_depth;
    int color_type;
    int interlaced;
    /// Why a call failed (empty on success).
    char message[200];
} ic_info;

/// Reads only the header (and, for PNG, the chunks before the image data): the size and
/// the channels `*_decode` will produce. 0 on success, -1 with `info->message` set.
int ic_png_header(const uint8_t *data, size_t size, ic_info *info);
/// Decodes the whole image into `out` (width * height * channels bytes, as the header gave):
/// palette to RGB, gray below 8 bits expanded, transparency to an alpha channel, 16 bits to
/// 8 by keeping the high byte, interlacing undone. No gamma or colour-profile correction.
int ic_png_decode(const uint8_t *data, size_t size, ic_info *info, uint8_t *out, size_t out_size);

int ic_jpeg_header(const uint8_t *data, size_t size, ic_info *info);
/// Gray JPEGs decode to 1 channel, colour ones to RGB. A corrupt-data warning (a truncated
/// file, say, which libjpeg would pad with gray) fails the decode.
int ic_jpeg_decode(const uint8_t *data, size_t size, ic_info *info, uint8_t *out, size_t out_size);

/// Baseline JPEG of 8-bit gray (1) or RGB (3) pixels at `quality` (1-100), for tests and
/// sample data. `*out` is allocated: free it with ic_free.
int ic_jpeg_encode(const uint8_t *pixels, uint32_t width, uint32_t height, int channels, int quality,
                   uint8_t **out, unsigned long *out_size, ic_info *info);
void ic_free(void *p);

#endif

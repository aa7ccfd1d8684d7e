#include <math.h>
#include <stdint.h>
#include <string.h>

int add(int a, int b) { return a + b; }

double hypotenuse(double a, double b) { return sqrt(a * a + b * b); }

const char *version(void) { return VERSION; }

uint64_t sum_bytes(const uint8_t *bytes, size_t length) {
  uint64_t total = 0;
  for (size_t i = 0; i < length; i++) total += bytes[i];
  return total;
}

int count_char(const char *s, int c) {
  int n = 0;
  for (; *s; s++) n += *s == c;
  return n;
}

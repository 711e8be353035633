#ifndef WINNOW_CCRYPTO_SHIM_H
#define WINNOW_CCRYPTO_SHIM_H
// Debian's libssl-dev installs OpenSSL 3's headers on the default include
// path and libcrypto.so beside them. Only the EVP digest interface is used
// (SHA-256, with the SHA-NI / AVX2 code paths OpenSSL picks at run time).
#include <openssl/evp.h>
#endif

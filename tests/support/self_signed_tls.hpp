// A throwaway certificate authority for TLS tests, made in memory with
// OpenSSL: an EC key and a self-signed certificate for "localhost" and
// 127.0.0.1, and Asio SSL contexts for a server that presents it and a
// client that trusts it.
#pragma once

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <asio/ssl.hpp>
#include <memory>
#include <stdexcept>
#include <string>

namespace websockets::test {

class self_signed_tls {
 public:
  explicit self_signed_tls(const std::string& host = "localhost") {
    key_.reset(EVP_EC_gen("P-256"));
    if (!key_) throw std::runtime_error("EVP_EC_gen failed");
    cert_.reset(X509_new());
    X509_set_version(cert_.get(), 2);
    ASN1_INTEGER_set(X509_get_serialNumber(cert_.get()), 1);
    X509_gmtime_adj(X509_getm_notBefore(cert_.get()), -3600);
    X509_gmtime_adj(X509_getm_notAfter(cert_.get()), 24 * 3600);
    X509_set_pubkey(cert_.get(), key_.get());
    X509_NAME* name = X509_get_subject_name(cert_.get());
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                               reinterpret_cast<const unsigned char*>(host.c_str()), -1, -1, 0);
    X509_set_issuer_name(cert_.get(), name);
    add_extension(NID_subject_alt_name, ("DNS:" + host + ",IP:127.0.0.1,IP:::1").c_str());
    add_extension(NID_basic_constraints, "critical,CA:TRUE");
    if (X509_sign(cert_.get(), key_.get(), EVP_sha256()) == 0)
      throw std::runtime_error("X509_sign failed");
  }

  // A server context presenting the certificate.
  std::shared_ptr<asio::ssl::context> server_context() const {
    auto ctx = std::make_shared<asio::ssl::context>(asio::ssl::context::tls_server);
    SSL_CTX_use_certificate(ctx->native_handle(), cert_.get());
    SSL_CTX_use_PrivateKey(ctx->native_handle(), key_.get());
    return ctx;
  }

  // A client context that trusts only this certificate and verifies peers.
  std::shared_ptr<asio::ssl::context> client_context() const {
    auto ctx = std::make_shared<asio::ssl::context>(asio::ssl::context::tls_client);
    X509_STORE_add_cert(SSL_CTX_get_cert_store(ctx->native_handle()), cert_.get());
    ctx->set_verify_mode(asio::ssl::verify_peer);
    return ctx;
  }

  // The certificate in PEM, for peers that load it from a file.
  std::string certificate_pem() const {
    return to_pem([&](BIO* b) { PEM_write_bio_X509(b, cert_.get()); });
  }
  std::string private_key_pem() const {
    return to_pem([&](BIO* b) {
      PEM_write_bio_PrivateKey(b, key_.get(), nullptr, nullptr, 0, nullptr, nullptr);
    });
  }

 private:
  void add_extension(int nid, const char* value) {
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, cert_.get(), cert_.get(), nullptr, nullptr, 0);
    X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
    if (!ext) throw std::runtime_error("X509V3_EXT_conf_nid failed");
    X509_add_ext(cert_.get(), ext, -1);
    X509_EXTENSION_free(ext);
  }

  template <class Write>
  static std::string to_pem(Write write) {
    BIO* b = BIO_new(BIO_s_mem());
    write(b);
    char* data = nullptr;
    const long n = BIO_get_mem_data(b, &data);
    std::string s(data, static_cast<std::size_t>(n));
    BIO_free(b);
    return s;
  }

  struct key_free {
    void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
  };
  struct cert_free {
    void operator()(X509* c) const { X509_free(c); }
  };
  std::unique_ptr<EVP_PKEY, key_free> key_;
  std::unique_ptr<X509, cert_free> cert_;
};

}  // namespace websockets::test

//! The cryptography, all from audited libraries: RSA-OAEP from RustCrypto `rsa` 0.10
//! (constant-time bignums, blinded private operation), AES-GCM from ring, AES-CBC from
//! RustCrypto `aes` + `cbc`. Only the XML Encryption framing (IV prefix, tag suffix, the
//! last-byte padding) is done here.
//!
//! Every decryption failure is the unit error `Fail`: the caller turns it into the one
//! opaque [`DecryptError::Failed`](super::DecryptError::Failed).

use cbc::cipher::block_padding::NoPadding;
use cbc::cipher::{BlockModeDecrypt, BlockModeEncrypt, KeyIvInit};
use ring::aead;
use rsa::{Oaep, PrivateKey, PublicKey};
use sha2::digest::{Digest, FixedOutputReset};
use zeroize::Zeroizing;

use super::algorithm::{ContentAlgorithm, OaepHash};

/// A cryptographic failure, deliberately without detail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Fail;

const GCM_IV: usize = 12;
const GCM_TAG: usize = 16;
const CBC_IV: usize = 16;
const AES_BLOCK: usize = 16;

/// One RSA-OAEP operation, generic over the two hashes below.
enum RsaOp<'a> {
    Decrypt(&'a PrivateKey, &'a [u8]),
    Encrypt(&'a PublicKey, &'a [u8]),
}

fn run_oaep<D, M>(op: RsaOp<'_>, label: Option<&[u8]>) -> Result<Vec<u8>, Fail>
where
    D: Digest + FixedOutputReset,
    M: Digest + FixedOutputReset,
{
    let padding = match label {
        Some(label) => Oaep::<D, M>::new_with_mgf_hash_and_label(label.to_vec()),
        None => Oaep::<D, M>::new_with_mgf_hash(),
    };
    match op {
        // `decrypt` blinds the private operation with the OS RNG (feature `getrandom`).
        RsaOp::Decrypt(key, ciphertext) => key.decrypt(padding, ciphertext).map_err(|_| Fail),
        RsaOp::Encrypt(key, plaintext) => key
            .encrypt(&mut getrandom::SysRng, padding, plaintext)
            .map_err(|_| Fail),
    }
}

fn oaep_with_digest<D>(op: RsaOp<'_>, mgf: OaepHash, label: Option<&[u8]>) -> Result<Vec<u8>, Fail>
where
    D: Digest + FixedOutputReset,
{
    match mgf {
        OaepHash::Sha1 => run_oaep::<D, sha1::Sha1>(op, label),
        OaepHash::Sha224 => run_oaep::<D, sha2::Sha224>(op, label),
        OaepHash::Sha256 => run_oaep::<D, sha2::Sha256>(op, label),
        OaepHash::Sha384 => run_oaep::<D, sha2::Sha384>(op, label),
        OaepHash::Sha512 => run_oaep::<D, sha2::Sha512>(op, label),
    }
}

fn oaep(
    op: RsaOp<'_>,
    digest: OaepHash,
    mgf: OaepHash,
    label: Option<&[u8]>,
) -> Result<Vec<u8>, Fail> {
    match digest {
        OaepHash::Sha1 => oaep_with_digest::<sha1::Sha1>(op, mgf, label),
        OaepHash::Sha224 => oaep_with_digest::<sha2::Sha224>(op, mgf, label),
        OaepHash::Sha256 => oaep_with_digest::<sha2::Sha256>(op, mgf, label),
        OaepHash::Sha384 => oaep_with_digest::<sha2::Sha384>(op, mgf, label),
        OaepHash::Sha512 => oaep_with_digest::<sha2::Sha512>(op, mgf, label),
    }
}

/// Unwraps a content key. An empty `OAEPparams` is the same as none (RFC 8017: empty label).
pub(crate) fn oaep_decrypt(
    key: &PrivateKey,
    ciphertext: &[u8],
    digest: OaepHash,
    mgf: OaepHash,
    label: Option<&[u8]>,
) -> Result<Zeroizing<Vec<u8>>, Fail> {
    oaep(RsaOp::Decrypt(key, ciphertext), digest, mgf, label).map(Zeroizing::new)
}

/// Wraps a content key for `key`.
pub(crate) fn oaep_encrypt(
    key: &PublicKey,
    plaintext: &[u8],
    digest: OaepHash,
    mgf: OaepHash,
    label: Option<&[u8]>,
) -> Result<Vec<u8>, Fail> {
    oaep(RsaOp::Encrypt(key, plaintext), digest, mgf, label)
}

fn gcm_algorithm(alg: ContentAlgorithm) -> &'static aead::Algorithm {
    match alg {
        ContentAlgorithm::Aes128Gcm | ContentAlgorithm::Aes128Cbc => &aead::AES_128_GCM,
        ContentAlgorithm::Aes256Gcm | ContentAlgorithm::Aes256Cbc => &aead::AES_256_GCM,
    }
}

/// Decrypts the `CipherValue` octets of an `EncryptedData` with the content key.
pub(crate) fn decrypt_content(
    alg: ContentAlgorithm,
    key: &[u8],
    data: &[u8],
) -> Result<Vec<u8>, Fail> {
    if key.len() != alg.key_len() {
        return Err(Fail);
    }
    match alg {
        ContentAlgorithm::Aes128Gcm | ContentAlgorithm::Aes256Gcm => gcm_open(alg, key, data),
        ContentAlgorithm::Aes128Cbc | ContentAlgorithm::Aes256Cbc => cbc_open(alg, key, data),
    }
}

fn gcm_open(alg: ContentAlgorithm, key: &[u8], data: &[u8]) -> Result<Vec<u8>, Fail> {
    let (iv, sealed) = data.split_at_checked(GCM_IV).ok_or(Fail)?;
    if sealed.len() < GCM_TAG {
        return Err(Fail);
    }
    let key = aead::UnboundKey::new(gcm_algorithm(alg), key).map_err(|_| Fail)?;
    let key = aead::LessSafeKey::new(key);
    let nonce = aead::Nonce::try_assume_unique_for_key(iv).map_err(|_| Fail)?;
    let mut buf = sealed.to_vec();
    let plain_len = key
        .open_in_place(nonce, aead::Aad::empty(), &mut buf)
        .map_err(|_| Fail)?
        .len();
    buf.truncate(plain_len);
    Ok(buf)
}

fn cbc_open(alg: ContentAlgorithm, key: &[u8], data: &[u8]) -> Result<Vec<u8>, Fail> {
    let (iv, body) = data.split_at_checked(CBC_IV).ok_or(Fail)?;
    if body.is_empty() || body.len() % AES_BLOCK != 0 {
        return Err(Fail);
    }
    let mut buf = body.to_vec();
    let len = match alg {
        ContentAlgorithm::Aes128Cbc => cbc::Decryptor::<aes::Aes128>::new_from_slices(key, iv)
            .map_err(|_| Fail)?
            .decrypt_padded::<NoPadding>(&mut buf)
            .map_err(|_| Fail)?
            .len(),
        ContentAlgorithm::Aes256Cbc => cbc::Decryptor::<aes::Aes256>::new_from_slices(key, iv)
            .map_err(|_| Fail)?
            .decrypt_padded::<NoPadding>(&mut buf)
            .map_err(|_| Fail)?
            .len(),
        ContentAlgorithm::Aes128Gcm | ContentAlgorithm::Aes256Gcm => return Err(Fail),
    };
    buf.truncate(len);
    // XML Encryption padding: the last octet counts the padding octets (1..=16); the others
    // are arbitrary (not PKCS#7), so only the last octet is checked.
    let pad = usize::from(*buf.last().ok_or(Fail)?);
    if pad == 0 || pad > AES_BLOCK {
        return Err(Fail);
    }
    buf.truncate(buf.len().saturating_sub(pad));
    Ok(buf)
}

/// Fills `buf` from the operating system's RNG.
pub(crate) fn random(buf: &mut [u8]) -> Result<(), Fail> {
    getrandom::fill(buf).map_err(|_| Fail)
}

/// Encrypts `plain` with a fresh random IV, returning the `CipherValue` octets.
pub(crate) fn encrypt_content(
    alg: ContentAlgorithm,
    key: &[u8],
    plain: &[u8],
) -> Result<Vec<u8>, Fail> {
    if key.len() != alg.key_len() {
        return Err(Fail);
    }
    match alg {
        ContentAlgorithm::Aes128Gcm | ContentAlgorithm::Aes256Gcm => {
            let mut iv = [0u8; GCM_IV];
            random(&mut iv)?;
            let sealing = aead::LessSafeKey::new(
                aead::UnboundKey::new(gcm_algorithm(alg), key).map_err(|_| Fail)?,
            );
            let mut buf = plain.to_vec();
            sealing
                .seal_in_place_append_tag(
                    aead::Nonce::assume_unique_for_key(iv),
                    aead::Aad::empty(),
                    &mut buf,
                )
                .map_err(|_| Fail)?;
            let mut out = iv.to_vec();
            out.append(&mut buf);
            Ok(out)
        }
        ContentAlgorithm::Aes128Cbc | ContentAlgorithm::Aes256Cbc => {
            let mut iv = [0u8; CBC_IV];
            random(&mut iv)?;
            // Random padding octets, as XML Encryption allows, then the count.
            let pad = AES_BLOCK - plain.len() % AES_BLOCK;
            let mut filler = [0u8; AES_BLOCK];
            let filler = filler.get_mut(..pad.saturating_sub(1)).ok_or(Fail)?;
            random(filler)?;
            let mut buf = plain.to_vec();
            buf.extend_from_slice(filler);
            buf.push(u8::try_from(pad).map_err(|_| Fail)?);
            let len = buf.len();
            match alg {
                ContentAlgorithm::Aes128Cbc => {
                    cbc::Encryptor::<aes::Aes128>::new_from_slices(key, &iv)
                        .map_err(|_| Fail)?
                        .encrypt_padded::<NoPadding>(&mut buf, len)
                        .map_err(|_| Fail)?;
                }
                _ => {
                    cbc::Encryptor::<aes::Aes256>::new_from_slices(key, &iv)
                        .map_err(|_| Fail)?
                        .encrypt_padded::<NoPadding>(&mut buf, len)
                        .map_err(|_| Fail)?;
                }
            }
            let mut out = iv.to_vec();
            out.append(&mut buf);
            Ok(out)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY16: [u8; 16] = [7; 16];
    const KEY32: [u8; 32] = [9; 32];

    fn key_for(alg: ContentAlgorithm) -> &'static [u8] {
        if alg.key_len() == 16 { &KEY16 } else { &KEY32 }
    }

    #[test]
    fn content_round_trips_for_every_length_around_a_block() {
        for alg in ContentAlgorithm::ALL {
            for len in 0..=33 {
                let plain: Vec<u8> = (0..len).map(|i| i as u8).collect();
                let sealed = encrypt_content(alg, key_for(alg), &plain).unwrap();
                assert_eq!(decrypt_content(alg, key_for(alg), &sealed).unwrap(), plain);
            }
        }
    }

    #[test]
    fn cbc_padding_octets_may_be_arbitrary_but_the_count_must_be_1_to_16() {
        let iv = [3u8; 16];
        let encrypt = |block: [u8; 16]| {
            let mut buf = block.to_vec();
            cbc::Encryptor::<aes::Aes128>::new_from_slices(&KEY16, &iv)
                .unwrap()
                .encrypt_padded::<NoPadding>(&mut buf, 16)
                .unwrap();
            let mut out = iv.to_vec();
            out.extend(buf);
            out
        };
        // "hello" + 10 arbitrary octets + count 11: not PKCS#7, still valid.
        let mut block = [0xA5u8; 16];
        block[..5].copy_from_slice(b"hello");
        block[15] = 11;
        let out = decrypt_content(ContentAlgorithm::Aes128Cbc, &KEY16, &encrypt(block)).unwrap();
        assert_eq!(out, b"hello");
        block[15] = 0;
        assert_eq!(
            decrypt_content(ContentAlgorithm::Aes128Cbc, &KEY16, &encrypt(block)),
            Err(Fail)
        );
        block[15] = 17;
        assert_eq!(
            decrypt_content(ContentAlgorithm::Aes128Cbc, &KEY16, &encrypt(block)),
            Err(Fail)
        );
        block[15] = 16;
        let out = decrypt_content(ContentAlgorithm::Aes128Cbc, &KEY16, &encrypt(block)).unwrap();
        assert!(out.is_empty());
    }

    #[test]
    fn short_or_misaligned_ciphertexts_fail() {
        for alg in ContentAlgorithm::ALL {
            for len in [0, 1, 11, 12, 15, 16, 27, 31, 33] {
                let data = vec![0u8; len];
                let is_cbc =
                    alg == ContentAlgorithm::Aes128Cbc || alg == ContentAlgorithm::Aes256Cbc;
                if is_cbc && len == 32 {
                    continue; // one whole block: may or may not unpad, checked elsewhere
                }
                let res = decrypt_content(alg, key_for(alg), &data);
                assert_eq!(res, Err(Fail), "{alg:?} {len}");
            }
        }
    }

    #[test]
    fn wrong_key_length_fails() {
        assert_eq!(
            decrypt_content(ContentAlgorithm::Aes256Gcm, &KEY16, &[0; 64]),
            Err(Fail)
        );
        assert_eq!(
            encrypt_content(ContentAlgorithm::Aes128Cbc, &KEY32, b"x"),
            Err(Fail)
        );
    }
}

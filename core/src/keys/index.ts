export {
  SIGNING_ALG,
  generateSigningKeyPair,
  importKeyPair,
  importPublicKey,
  loadKeyPairFiles,
  loadOrCreateKeyPair,
  type KeyPairFiles,
  type SigningKeyPair,
} from './key-pair.js';

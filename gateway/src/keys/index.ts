export {
  SIGNING_ALG,
  generateSigningKeyPair,
  importKeyPair,
  importPublicKey,
  loadOrCreateKeyPair,
  type SigningKeyPair,
} from './key-pair.js';

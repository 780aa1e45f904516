//! Order hashes and signatures on the exchange's EIP-712 domains.
//!
//! The orderID is `keccak256(0x1901 || domainSeparator || hashStruct(order))`
//! over the eleven-field V2 `Order` struct; domain version "2" for the CTF
//! Exchange V2 and its neg-risk twin, "3" for Exchange V3. Types 0-2 sign that
//! hash with plain ECDSA. Type 3 (POLY_1271) signs it through a deposit
//! wallet's ERC-7739 `TypedDataSign` envelope; see [`SignedOrder::verify_signature`].

use alloy::primitives::{Address, B256, Bytes, U256, keccak256};
use alloy::signers::SignerSync;
use alloy::sol_types::{Eip712Domain, SolStruct, SolValue, eip712_domain};
use pmbot_core::{Hash32, OrderId, Side};

use super::{ExchangeKind, OrderType, PostOrder, SignatureType, SignedOrder};
use crate::auth::{EcdsaRules, ecdsa_from_bytes};

pub(super) mod sol {
    alloy::sol! {
        /// The V2/V3 order struct. The Solidity name must be `Order`: it is
        /// part of the type hash the exchange contracts compute.
        struct Order {
            uint256 salt;
            address maker;
            address signer;
            uint256 tokenId;
            uint256 makerAmount;
            uint256 takerAmount;
            uint8 side;
            uint8 signatureType;
            uint256 timestamp;
            bytes32 metadata;
            bytes32 builder;
        }
    }
}

/// `name` of every exchange domain.
pub const EXCHANGE_NAME: &str = "Polymarket CTF Exchange";

/// The EIP-712 type string of the V2/V3 order; a POLY_1271 signature embeds it.
pub const ORDER_TYPE_STRING: &str = "Order(uint256 salt,address maker,address signer,uint256 tokenId,\
uint256 makerAmount,uint256 takerAmount,uint8 side,uint8 signatureType,uint256 timestamp,\
bytes32 metadata,bytes32 builder)";

/// ERC-7739 envelope type of a POLY_1271 signature, before the contents type.
const TYPED_DATA_SIGN_PREFIX: &str = "TypedDataSign(Order contents,string name,string version,\
uint256 chainId,address verifyingContract,bytes32 salt)";
/// The deposit wallet's own EIP-712 name and version.
const DEPOSIT_WALLET_NAME: &str = "DepositWallet";
const DEPOSIT_WALLET_VERSION: &str = "1";

/// Wrapped POLY_1271 signature: ECDSA (65) || app domain separator (32) ||
/// contents hash (32) || contents type || uint16 big-endian length of it.
const WRAPPED_FIXED_LEN: usize = 65 + 32 + 32 + 2;

/// The exchange domain's `version`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DomainVersion {
    /// CTF Exchange V2 and Neg Risk CTF Exchange V2.
    V2,
    /// Exchange V3 (position-id markets).
    V3,
}

impl DomainVersion {
    pub const fn as_str(self) -> &'static str {
        match self {
            DomainVersion::V2 => "2",
            DomainVersion::V3 => "3",
        }
    }
}

/// Chain id and exchange addresses; defaults are Polygon mainnet's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExchangeContracts {
    pub chain_id: u64,
    pub ctf_exchange_v2: Address,
    pub neg_risk_exchange_v2: Address,
    pub exchange_v3: Address,
}

impl ExchangeContracts {
    pub const POLYGON: ExchangeContracts = ExchangeContracts {
        chain_id: 137,
        ctf_exchange_v2: crate::engine::CTF_EXCHANGE_V2,
        neg_risk_exchange_v2: crate::engine::NEG_RISK_EXCHANGE_V2,
        exchange_v3: crate::engine::EXCHANGE_V3,
    };

    /// The domain orders of a market on `kind` (and `neg_risk`) are signed on.
    /// Exchange V3 has no neg-risk twin, so `neg_risk` is ignored for it.
    pub fn domain(&self, kind: ExchangeKind, neg_risk: bool) -> ExchangeDomain {
        match (kind, neg_risk) {
            (ExchangeKind::CtfV2, false) => ExchangeDomain::new(DomainVersion::V2, self.chain_id, self.ctf_exchange_v2),
            (ExchangeKind::CtfV2, true) => {
                ExchangeDomain::new(DomainVersion::V2, self.chain_id, self.neg_risk_exchange_v2)
            }
            (ExchangeKind::V3, _) => ExchangeDomain::new(DomainVersion::V3, self.chain_id, self.exchange_v3),
        }
    }
}

impl Default for ExchangeContracts {
    fn default() -> Self {
        ExchangeContracts::POLYGON
    }
}

/// One exchange's EIP-712 domain, with its separator computed once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExchangeDomain {
    version: DomainVersion,
    chain_id: u64,
    verifying_contract: Address,
    separator: B256,
}

impl ExchangeDomain {
    pub fn new(version: DomainVersion, chain_id: u64, verifying_contract: Address) -> ExchangeDomain {
        let separator = eip712(version, chain_id, verifying_contract).separator();
        ExchangeDomain { version, chain_id, verifying_contract, separator }
    }

    pub fn version(&self) -> DomainVersion {
        self.version
    }

    pub fn chain_id(&self) -> u64 {
        self.chain_id
    }

    pub fn verifying_contract(&self) -> Address {
        self.verifying_contract
    }

    /// `hashStruct(EIP712Domain)`.
    pub fn separator(&self) -> B256 {
        self.separator
    }

    pub fn eip712(&self) -> Eip712Domain {
        eip712(self.version, self.chain_id, self.verifying_contract)
    }

    /// `keccak256(0x1901 || separator || struct_hash)`.
    fn digest(&self, struct_hash: B256) -> B256 {
        let mut buf = [0u8; 66];
        buf[0] = 0x19;
        buf[1] = 0x01;
        buf[2..34].copy_from_slice(self.separator.as_slice());
        buf[34..].copy_from_slice(struct_hash.as_slice());
        keccak256(buf)
    }
}

fn eip712(version: DomainVersion, chain_id: u64, verifying_contract: Address) -> Eip712Domain {
    eip712_domain! {
        name: EXCHANGE_NAME,
        version: version.as_str(),
        chain_id: chain_id,
        verifying_contract: verifying_contract,
    }
}

/// Why a well-formed order was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OrderVerifyError {
    #[error("an EOA order's maker must be its signer")]
    EoaMakerNotSigner,
    #[error("a proxy or safe order needs a non-zero maker (the wallet)")]
    ZeroMaker,
    #[error("a POLY_1271 order's maker and signer must both be the deposit wallet")]
    DepositWalletMakerNotSigner,
    #[error("only GTD orders may have a non-zero expiration")]
    ExpirationNotAllowed,
    #[error("signature is malformed: {0}")]
    MalformedSignature(&'static str),
    #[error("signature was not made by the order's signer on this exchange domain")]
    SignerMismatch,
    #[error("wrapped signature is for another exchange domain")]
    WrongDomain,
    #[error("wrapped signature covers a different order")]
    ContentsMismatch,
}

impl OrderVerifyError {
    /// The HTTP status the real API answers with.
    pub const fn http_status(&self) -> u16 {
        400
    }

    /// The `{"error": ...}` text. "invalid signature" is the real API's; the
    /// expiration text is this simulator's choice (the real one is unknown).
    pub const fn message(&self) -> &'static str {
        match self {
            OrderVerifyError::ExpirationNotAllowed => "invalid expiration",
            _ => "invalid signature",
        }
    }
}

/// An order whose signature checked out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VerifiedOrder {
    /// The EIP-712 order hash, returned as `orderID`.
    pub order_id: OrderId,
    /// The order's `signer` field.
    pub signer: Address,
    /// Whose ECDSA key signed: `signer` for types 0-2; for POLY_1271 the
    /// deposit wallet's owner, which only the caller can check (on chain the
    /// wallet's ERC-1271 code does). The Rust SDK binds its API key to this
    /// owner EOA, so comparing it with the key's address is the natural test.
    pub ecdsa_signer: Address,
}

impl SignedOrder {
    pub(super) fn to_sol(&self) -> sol::Order {
        sol::Order {
            salt: self.salt,
            maker: self.maker,
            signer: self.signer,
            tokenId: self.token_id,
            makerAmount: self.maker_amount,
            takerAmount: self.taker_amount,
            side: match self.side {
                Side::Buy => 0,
                Side::Sell => 1,
            },
            signatureType: self.signature_type as u8,
            timestamp: self.timestamp_ms,
            metadata: self.metadata,
            builder: self.builder,
        }
    }

    /// `hashStruct(order)`: the ERC-7739 "contents" hash.
    pub fn struct_hash(&self) -> B256 {
        self.to_sol().eip712_hash_struct()
    }

    /// The EIP-712 order hash on `domain`: the `orderID`.
    pub fn order_hash(&self, domain: &ExchangeDomain) -> B256 {
        domain.digest(self.struct_hash())
    }

    /// [`SignedOrder::order_hash`] as pmbot's id type.
    pub fn order_id(&self, domain: &ExchangeDomain) -> OrderId {
        Hash32(self.order_hash(domain).0)
    }

    /// Maker and signer must fit the signature type, as the exchange contract
    /// requires (it also checks a proxy or safe belongs to the signer, which
    /// needs chain state and is not checked here).
    pub fn check_signature_type_rules(&self) -> Result<(), OrderVerifyError> {
        match self.signature_type {
            SignatureType::Eoa if self.maker != self.signer => Err(OrderVerifyError::EoaMakerNotSigner),
            SignatureType::PolyProxy | SignatureType::PolyGnosisSafe if self.maker.is_zero() => {
                Err(OrderVerifyError::ZeroMaker)
            }
            SignatureType::Poly1271 if self.maker != self.signer || self.signer.is_zero() => {
                Err(OrderVerifyError::DepositWalletMakerNotSigner)
            }
            _ => Ok(()),
        }
    }

    /// Checks the signature on `domain`.
    ///
    /// Types 0-2: a 65-byte ECDSA signature (v 27/28, low s, as the chain
    /// demands) of the order hash that recovers to `signer`.
    ///
    /// Type 3 (POLY_1271): the ERC-7739 wrapped form: its app domain separator
    /// must be `domain`'s, its contents hash this order's struct hash, its
    /// contents type the V2 `Order` type; its ECDSA part must sign
    /// `keccak256(0x1901 || separator || hashStruct(TypedDataSign{contents,
    /// name: "DepositWallet", version: "1", chainId, verifyingContract: signer,
    /// salt: 0}))`. The key it recovers to is returned as `ecdsa_signer`.
    pub fn verify_signature(&self, domain: &ExchangeDomain) -> Result<VerifiedOrder, OrderVerifyError> {
        let struct_hash = self.struct_hash();
        let order_hash = domain.digest(struct_hash);
        let ecdsa_signer = match self.signature_type {
            SignatureType::Eoa | SignatureType::PolyProxy | SignatureType::PolyGnosisSafe => {
                let bytes: &[u8; 65] =
                    self.signature.as_ref().try_into().map_err(|_| {
                        OrderVerifyError::MalformedSignature("an EOA, proxy or safe signature is 65 bytes")
                    })?;
                let recovered = recover(bytes, order_hash)?;
                if recovered != self.signer {
                    return Err(OrderVerifyError::SignerMismatch);
                }
                recovered
            }
            SignatureType::Poly1271 => {
                let wrapped = Wrapped::parse(&self.signature)?;
                if wrapped.app_separator != domain.separator() {
                    return Err(OrderVerifyError::WrongDomain);
                }
                if wrapped.contents != struct_hash {
                    return Err(OrderVerifyError::ContentsMismatch);
                }
                if wrapped.contents_type != ORDER_TYPE_STRING.as_bytes() {
                    return Err(OrderVerifyError::MalformedSignature("contents type is not the V2 Order type"));
                }
                recover(&wrapped.ecdsa, typed_data_sign_digest(domain, struct_hash, self.signer))?
            }
        };
        Ok(VerifiedOrder { order_id: Hash32(order_hash.0), signer: self.signer, ecdsa_signer })
    }

    /// Signs this order on `domain` with `key` as the official clients do:
    /// plain ECDSA for types 0-2, the wrapped form for POLY_1271. For tests
    /// and the simulator's own traders.
    pub fn signed_with(
        mut self,
        key: &impl SignerSync,
        domain: &ExchangeDomain,
    ) -> alloy::signers::Result<SignedOrder> {
        let struct_hash = self.struct_hash();
        self.signature = match self.signature_type {
            SignatureType::Poly1271 => {
                let digest = typed_data_sign_digest(domain, struct_hash, self.signer);
                let ecdsa = key.sign_hash_sync(&digest)?;
                let mut out = Vec::with_capacity(WRAPPED_FIXED_LEN + ORDER_TYPE_STRING.len());
                out.extend_from_slice(&ecdsa.as_bytes());
                out.extend_from_slice(domain.separator().as_slice());
                out.extend_from_slice(struct_hash.as_slice());
                out.extend_from_slice(ORDER_TYPE_STRING.as_bytes());
                let len = u16::try_from(ORDER_TYPE_STRING.len()).expect("type string is short");
                out.extend_from_slice(&len.to_be_bytes());
                Bytes::from(out)
            }
            _ => Bytes::from(key.sign_hash_sync(&domain.digest(struct_hash))?.as_bytes().to_vec()),
        };
        Ok(self)
    }
}

impl PostOrder {
    /// All signature-side checks: signature-type rules, the expiration rule
    /// (only GTD may carry one), and the signature on `domain`.
    pub fn verify(&self, domain: &ExchangeDomain) -> Result<VerifiedOrder, OrderVerifyError> {
        self.order.check_signature_type_rules()?;
        if self.order.expiration_s != 0 && self.order_type != OrderType::Gtd {
            return Err(OrderVerifyError::ExpirationNotAllowed);
        }
        self.order.verify_signature(domain)
    }
}

fn recover(bytes: &[u8; 65], digest: B256) -> Result<Address, OrderVerifyError> {
    let sig = ecdsa_from_bytes(bytes, EcdsaRules::Chain)
        .ok_or(OrderVerifyError::MalformedSignature("ECDSA part needs v 27/28 and a low s"))?;
    sig.recover_address_from_prehash(&digest).map_err(|_| OrderVerifyError::SignerMismatch)
}

/// The digest a deposit wallet's owner signs for a POLY_1271 order.
fn typed_data_sign_digest(domain: &ExchangeDomain, contents: B256, wallet: Address) -> B256 {
    let type_hash = keccak256([TYPED_DATA_SIGN_PREFIX.as_bytes(), ORDER_TYPE_STRING.as_bytes()].concat());
    let tds = keccak256(
        (
            type_hash,
            contents,
            keccak256(DEPOSIT_WALLET_NAME),
            keccak256(DEPOSIT_WALLET_VERSION),
            U256::from(domain.chain_id()),
            wallet,
            B256::ZERO,
        )
            .abi_encode(),
    );
    domain.digest(tds)
}

/// The parts of a wrapped POLY_1271 signature.
struct Wrapped<'a> {
    ecdsa: [u8; 65],
    app_separator: B256,
    contents: B256,
    contents_type: &'a [u8],
}

impl<'a> Wrapped<'a> {
    fn parse(sig: &'a [u8]) -> Result<Wrapped<'a>, OrderVerifyError> {
        let malformed = OrderVerifyError::MalformedSignature("not an ERC-7739 wrapped signature");
        if sig.len() < WRAPPED_FIXED_LEN {
            return Err(malformed);
        }
        let (body, len_bytes) = sig.split_at(sig.len() - 2);
        let type_len = usize::from(u16::from_be_bytes([len_bytes[0], len_bytes[1]]));
        if body.len() != 65 + 32 + 32 + type_len {
            return Err(malformed);
        }
        let (ecdsa, rest) = body.split_at(65);
        let (app_separator, rest) = rest.split_at(32);
        let (contents, contents_type) = rest.split_at(32);
        Ok(Wrapped {
            ecdsa: ecdsa.try_into().expect("split at 65"),
            app_separator: B256::from_slice(app_separator),
            contents: B256::from_slice(contents),
            contents_type,
        })
    }
}

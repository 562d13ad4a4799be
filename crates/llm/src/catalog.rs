//! The model catalog: data (`catalog.toml`), not code, so a price or a new model is a one-line change.

use api::ai::ProviderKind;
use serde::Deserialize;

/// One model a provider serves.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelInfo {
    /// Which kind of provider serves it.
    #[serde(deserialize_with = "kind")]
    pub provider: ProviderKind,
    /// The provider's id for it.
    pub id: String,
    /// Context window, in tokens.
    pub context_window: u32,
    /// Longest answer, in tokens (0 for an embedding model).
    pub max_output: u32,
    /// USD per million prompt tokens.
    pub price_in: f64,
    /// USD per million completion tokens.
    pub price_out: f64,
    /// Where the price was read.
    pub price_source: String,
    /// When (YYYY-MM-DD).
    pub price_date: String,
    /// Reads images.
    #[serde(default)]
    pub vision: bool,
    /// Quick and cheap.
    #[serde(default)]
    pub fast: bool,
    /// An embedding model's vector size.
    #[serde(default)]
    pub embedding_dimensions: Option<u32>,
}

fn kind<'de, D: serde::Deserializer<'de>>(d: D) -> Result<ProviderKind, D::Error> {
    let text = String::deserialize(d)?;
    ProviderKind::parse(&text)
        .ok_or_else(|| serde::de::Error::custom(format!("unknown provider kind {text:?}")))
}

impl ModelInfo {
    /// What `tokens_in` prompt and `tokens_out` completion tokens cost, in USD.
    pub fn cost(&self, tokens_in: u32, tokens_out: u32) -> f64 {
        (f64::from(tokens_in) * self.price_in + f64::from(tokens_out) * self.price_out)
            / 1_000_000.0
    }

    /// A model of `kind` not in the catalog: no price known (free), a modest context window.
    pub fn unknown(kind: ProviderKind, id: &str) -> Self {
        Self {
            provider: kind,
            id: id.to_owned(),
            context_window: 8192,
            max_output: 4096,
            price_in: 0.0,
            price_out: 0.0,
            price_source: "not in the catalog".into(),
            price_date: String::new(),
            vision: false,
            fast: false,
            embedding_dimensions: None,
        }
    }
}

/// Every model known.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Catalog {
    models: Vec<ModelInfo>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CatalogFile {
    model: Vec<ModelInfo>,
}

/// Why a catalog did not load.
#[derive(Debug, thiserror::Error)]
#[error("model catalog: {0}")]
pub struct CatalogError(String);

impl Catalog {
    /// The catalog shipped with Cairn.
    pub fn builtin() -> Self {
        Self::parse(include_str!("../catalog.toml")).expect("the built-in catalog parses")
    }

    /// Parses a catalog file.
    pub fn parse(text: &str) -> Result<Self, CatalogError> {
        let file: CatalogFile = toml::from_str(text).map_err(|e| CatalogError(e.to_string()))?;
        for model in &file.model {
            if model.price_in < 0.0 || model.price_out < 0.0 || model.context_window == 0 {
                return Err(CatalogError(format!(
                    "{}: prices must be ≥ 0 and the context window > 0",
                    model.id
                )));
            }
        }
        Ok(Self { models: file.model })
    }

    /// Adds (or replaces) a model, e.g. one an admin added for their team.
    pub fn with(mut self, model: ModelInfo) -> Self {
        self.models
            .retain(|m| !(m.provider == model.provider && m.id == model.id));
        self.models.push(model);
        self
    }

    /// The model `id` as served by a provider of `kind`.
    pub fn get(&self, kind: ProviderKind, id: &str) -> Option<&ModelInfo> {
        self.models
            .iter()
            .find(|m| m.provider == kind && m.id == id)
    }

    /// [`Catalog::get`], or what is assumed of a model the catalog lacks.
    pub fn get_or_unknown(&self, kind: ProviderKind, id: &str) -> ModelInfo {
        self.get(kind, id)
            .cloned()
            .unwrap_or_else(|| ModelInfo::unknown(kind, id))
    }

    /// Every model.
    pub fn models(&self) -> &[ModelInfo] {
        &self.models
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_builtin_catalog_has_a_source_and_date_for_every_price() {
        let catalog = Catalog::builtin();
        assert!(catalog.models().len() >= 10);
        for model in catalog.models() {
            assert!(!model.price_source.is_empty(), "{}", model.id);
            assert_eq!(model.price_date.len(), 10, "{}", model.id);
        }
        let mini = catalog.get(ProviderKind::OpenAi, "gpt-4o-mini").unwrap();
        assert!((mini.cost(1_000_000, 1_000_000) - 0.75).abs() < 1e-9);
        assert!(
            catalog
                .get(ProviderKind::OpenAi, "text-embedding-3-small")
                .unwrap()
                .embedding_dimensions
                == Some(1536)
        );
    }

    #[test]
    fn a_bad_catalog_says_what_is_wrong() {
        let error = Catalog::parse("[[model]]\nprovider = \"acme\"\n").unwrap_err();
        assert!(error.to_string().contains("acme"), "{error}");
    }
}

// Package embed turns recipes and queries into vectors for the vector index.
//
// Two kinds of flavormonk.Embedder, chosen in cmd/flavormonk from
// FLAVORMONK_EMBED_PROVIDER:
//
//   - local (the default): NewLocal, a built-in feature-hashing embedder.
//     Deterministic, offline, no model download, no GPU, ~thousands of
//     recipes per second per core.
//   - openai / ollama: NewOpenAI, NewOllama and NewOllamaAPI, any endpoint
//     that speaks the OpenAI embeddings API (POST {base}/embeddings): OpenAI
//     itself, Ollama's /v1/embeddings, vLLM, LM Studio, ...
//
// # What the local embedder is, plainly
//
// It is not a language model. It hashes the text's lowercased, accent-folded
// word unigrams, word bigrams and character trigrams into 384 signed buckets
// (FNV-1a; the "hashing trick"), weights each feature by 1+ln(tf) and by the
// position of its first occurrence (1/sqrt(1+p/8) for the p-th word: early
// words, which RecipeText fills with the name, cuisine, tags and
// ingredients, count more than the steps at the end), and L2-normalizes. Cosine similarity between two such vectors therefore
// measures lexical overlap: shared words, shared word pairs, and shared
// character trigrams. What that gives:
//
//   - Good: near-duplicates and variants of the same recipe ("Chicken Tikka
//     Masala" vs "chicken tikka masala (easy)"), robustness to typos and
//     inflections that keep most trigrams ("tomatos", "tikka masla",
//     "creme brulee" = "crème brûlée"), and a ranking of recipes by how much
//     vocabulary (ingredients, dish words, cuisine) they share with a query.
//   - Not given: meaning. It knows no synonyms except those that happen to
//     share character n-grams ("aubergine" and "eggplant" are unrelated to
//     it; "scallion" and "green onion" too), nothing of paraphrase, language,
//     or that "something warm for a rainy day" means soup. Hash collisions add
//     a little noise (384 buckets for many thousands of features).
//
// In hybrid search it complements the lexical index with fuzzier,
// whole-document overlap; it does not add semantic recall. For that, set
// FLAVORMONK_EMBED_PROVIDER=openai (e.g. text-embedding-3-small) or ollama
// (e.g. nomic-embed-text) and re-index: the vector index records the model
// and dimension and refuses to mix vectors from two models.
//
// # What is embedded
//
// RecipeText builds the text embedded for a recipe (name, cuisine, category,
// diets, tags, ingredient items, description, the first steps; at most
// MaxRecipeText bytes); the indexer hashes it together with the model name
// (indexer.Hash), so `flavormonk index` re-embeds exactly the recipes whose
// text or model changed.
package embed

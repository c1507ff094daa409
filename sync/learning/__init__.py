"""Nightly on-device learning (issue 8): LoRA adapters for the local model, trained on CPU from
labelled examples (the cloud's plans, the user's corrections) and handed to llama.cpp as GGUF.

- `hf_twin`: the trainable PyTorch twin of the packaged GGUF model (transformers dequantizes it).
- `examples`: labelled examples → token sequences, prompted exactly as the app prompts.
- `train`: peft LoRA training in its own low-priority process, checkpointed, memory-capped.
- `gguf_lora`: our writer (and checker) of llama.cpp's GGUF LoRA adapter format.
- `nightly`: one night: examples → job → training process → adapter → history.

Heavy libraries (torch, transformers, peft, llama_cpp) are imported inside the functions.
"""

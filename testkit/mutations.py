"""Break each exactness and safety proof on purpose and show that a test catches it.

    python -m testkit.mutations            # every mutation (14 min on 2 cores, 2026-12-07)
    python -m testkit.mutations fp16-bound # one

Each mutation edits one line of a copy of the repository (never this checkout) and runs the tests that guard
that line; a mutation is caught when they fail. The last stdout line is the JSON of every outcome; the exit
status is 1 if any mutation survived or could not be tried (NOT RUN: its line is gone or its tests did not run).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from testkit.paths import REPO


@dataclass(frozen=True)
class Mutation:
    name: str
    file: str
    old: str
    new: str
    tests: tuple[str, ...]


CAUGHT = (1, 2)  # pytest's exit codes for "a test failed" and "collection failed" (the mutant does not import)

MUTATIONS = (
    Mutation("hybrid-candidate-bound", "imagesearch/serve/search.py",
             "complete = len(dense_top.rows) >= pool or c >= pool", "complete = True",
             ("tests/test_hybrid.py::test_a_row_second_on_both_lists_but_first_when_fused_is_found",)),
    Mutation("fp16-bound", "imagesearch/store/searchers.py", "FP16_SCORE_BOUND = 2e-3", "FP16_SCORE_BOUND = -1",
             ("tests/test_searchers.py::test_near_ties_that_fp16_cannot_order_are_still_answered_exactly",)),
    Mutation("refusal-without-message", "imagesearch/serve/api.py",
             'raise refused("search", exc) from None', "raise RuntimeError() from None",
             ("tests/test_fuzz_queries.py::test_malformed_raw_requests_get_an_error_not_a_crash",)),
    Mutation("mcp-always-on", "app.py", "mcp_server=config.mcp_server,", "mcp_server=True,",
             ("tests/test_mcp.py::test_switched_off_the_mcp_endpoint_is_gone_not_only_configured_off",)),
    Mutation("shard-row-path-check", "imagesearch/hub/download.py",
             'check_image_path(image_path, f"{name} row {count}")', "pass",
             ("tests/test_download.py::test_a_shard_row_whose_image_path_escapes_the_set_is_refused_and_nothing_is_written_outside",)),
    Mutation("codecs-encode-unguarded", "imagesearch/store/safe_pickle.py",
             "            return self._encode\n", "            import _codecs\n\n            return _codecs.encode\n",
             ("tests/test_safe_pickle.py::test_codecs_encode_cannot_make_the_loader_allocate_more_than_the_file",)),
    Mutation("ivf-filter-unwidened", "imagesearch/store/searchers.py",
             "if len(rows) <= SCAN_ROWS:", "if False:",
             ("tests/test_filtered_search.py::test_a_filter_at_the_scan_limit_is_answered_exactly_not_from_the_first_lists_that_fill_k",)),
    Mutation("upload-decoded-whole", "imagesearch/serve/image_query.py",
             "return decode(data, max_side=UPLOAD_SIDE, max_full_pixels=UPLOAD_FULL_PIXELS)", "return decode(data)",
             ("tests/test_upload_limits.py",)),
    Mutation("exclusion-ignored", "imagesearch/serve/query_syntax.py",
             "                mask[found] = False\n", "                pass\n",
             ("tests/test_query_syntax.py::test_minus_word_leaves_out_every_row_holding_it_stemmed",)),
    Mutation("coverage-over-best-row", "imagesearch/store/lexical.py",
             "reach = self._reach(ids)\n", "reach = float(self._scores(ids).max())\n",
             ("tests/test_lexical.py::test_coverage_is_bm25_over_what_a_row_holding_every_query_word_could_score",)),
    Mutation("band-on-fused-score", "imagesearch/serve/search.py",
             "band=self.bands.band(float(dense), similar, length,", "band=self.bands.band(float(score), similar, length,",
             ("tests/test_query_syntax.py::test_every_result_is_banded_on_its_cosine_and_all_weak_means_nothing_matches_well",)),
    Mutation("image-sha256-unchecked", "imagesearch/hub/remote_images.py",
             'if hashlib.sha256(data).digest() != location["sha256"].tobytes():', "if False:",
             ("tests/test_images_on_demand.py::test_an_image_whose_bytes_do_not_match_its_sha256_is_shown_as_no_image_never_another",)),
    Mutation("offset-ignored", "imagesearch/serve/search.py",
             "ranked = self._ranked(request.mode, lexical_text, vector(), request.offset + request.k, allowed)",
             "ranked = self._ranked(request.mode, lexical_text, vector(), request.k, allowed)",
             ("tests/test_query_syntax.py::test_offset_gives_the_next_results_of_the_same_ranking",)),
    Mutation("status-unescaped", "imagesearch/serve/page.py",
             'return "", f"⚠️ {markdown_text(str(exc))}", ""', 'return "", f"⚠️ {exc}", ""',
             ("tests/test_browser.py::test_values_echoed_from_a_deep_link_are_shown_as_text_never_as_markup",)),
    Mutation("certificate-on-top-1", "imagesearch/store/searchers.py",
             "if not complete and exact[order[-1]] < approx.min()", "if not complete and exact[order[0]] < approx.min()",
             ("tests/test_searchers.py::test_the_certificate_is_on_the_kth_result_not_the_first",)),
    Mutation("filters-ored", "imagesearch/serve/search.py",
             "allowed = mask if allowed is None else allowed & mask", "allowed = mask if allowed is None else allowed | mask",
             ("tests/test_filtered_search.py::test_a_dataset_and_a_label_filter_together_keep_only_rows_that_have_both",)),
    Mutation("markdown-without-entities", "imagesearch/serve/page.py",
             "HTML_ENTITIES.get(c) or (", "None or (",
             ("tests/test_page_text.py::test_echoed_text_becomes_entities_and_escapes_never_markup",)),
    Mutation("more-results-one-back", "imagesearch/serve/page.py",
             "return max(0, shown.offset + step * shown.k)", "return max(0, shown.offset + step * shown.k - 1)",
             ("tests/test_page_text.py::test_more_results_starts_right_after_the_page_shown_and_previous_right_before",)),
    Mutation("stop-word-phrase-scans-every-row", "imagesearch/serve/query_syntax.py",
             "        return None\n    pattern = phrase_pattern(phrase)",
             "        candidates = np.arange(lexical.count)\n    pattern = phrase_pattern(phrase)",
             ("tests/test_query_cost.py::test_stop_word_phrases_under_the_cap_cost_a_small_multiple_of_a_plain_query",)),
    Mutation("filters-uncapped", "imagesearch/serve/query_syntax.py",
             "if len(phrases) + len(excluded) > MAX_FILTERS:", "if False:",
             ("tests/test_query_cost.py::test_the_hostile_query_of_seventy_stop_word_phrases_is_refused_in_one_line",)),
    Mutation("dense-ties-cut-at-k", "imagesearch/serve/search.py",
             "if len(rows) < c or c >= self.artifacts.count or scores[-1] < scores[n - 1]:", "if True:",
             ("tests/test_pages.py",)),
    Mutation("lexical-ties-cut-at-k", "imagesearch/serve/search.py",
             "rows = np.flatnonzero(lex >= cut) if cut > 0 else np.flatnonzero(lex > 0)", "rows = top[lex[top] > 0]",
             ("tests/test_pages.py",)),
    Mutation("upload-decode-unbounded", "imagesearch/models/images.py",
             "                _refuse_unbounded(image, max_side, max_full_pixels, shrinks)\n", "                pass\n",
             ("tests/test_images.py",)),
    Mutation("image-range-end-wraps", "imagesearch/store/image_locations.py",
             "(offset > sizes[np.clip(shard, 0, max(len(sizes) - 1, 0))] - length)",
             "(offset + length > sizes[np.clip(shard, 0, max(len(sizes) - 1, 0))])",
             ("tests/test_images_on_demand.py::test_a_range_whose_end_would_wrap_or_pass_the_shard_is_refused_and_one_that_ends_on_it_is_kept",)),
    Mutation("index-search-parameters-unchecked", "imagesearch/store/index_file.py",
             "        _check_search_parameters(path, index, count, params or {})\n", "        pass\n",
             ("tests/test_index_file.py",)),
    Mutation("dry-run-refusal-dropped", "build/publish.py",
             'raise ArtifactError(f"publish would refuse: {refused[0]}")', "pass",
             ("tests/test_publish.py::test_a_dry_run_of_a_refused_publish_exits_as_the_real_one_would_with_the_refusal_in_its_json",)),
    Mutation("damaged-export-reused", "imagesearch/models/vision_export.py",
             '_sha256(folder / name) == meta["sha256"][name]', "True",
             ("tests/test_vision_export.py::test_an_export_is_reused_then_rebuilt_when_its_weights_file_is_damaged",)),
    Mutation("empty-caption-kept", "build/caption/results.py",
             "elif not says_something(result):", "elif False:",
             ("tests/test_describe_stops.py::test_an_empty_caption_is_a_failed_image_with_its_reason_not_a_blank_row",)),
    Mutation("ctrl-c-traceback", "build/cli.py", "except Stopped as exc:", "except ArithmeticError as exc:",
             ("tests/test_describe_stops.py::test_ctrl_c_prints_one_line_exits_130_and_the_same_command_finishes_the_job",)),
    Mutation("band-ignores-query-length", "imagesearch/serve/bands.py",
             "return self.by_length[min(max(length, 1), len(self.by_length)) - 1].band(cosine, holds_every_word)",
             "return self.by_length[-1].band(cosine, holds_every_word)",
             ("tests/test_bands.py::test_a_row_holding_every_word_is_at_least_fair_and_strong_once_past_the_weak_cut",)),
    Mutation("band-ignores-every-word-held", "imagesearch/serve/bands.py",
             "        if holds_every_word:\n", "        if False:\n",
             ("tests/test_bands.py::test_a_row_holding_every_word_is_at_least_fair_and_strong_once_past_the_weak_cut",)),
    Mutation("every-word-held-not-passed", "imagesearch/serve/search.py",
             "length, self._holds_every_word(int(row), wanted)),", "length, False),",
             ("tests/test_bands.py::test_green_eyes_on_the_demo_is_the_one_cat_and_not_called_weak",)),
    Mutation("bands-cut-on-vocabulary-words", "build/indexing/null_queries.py",
             "unused = [w for w in OUTSIDE_WORDS if term(w) not in used]", "unused = list(OUTSIDE_WORDS)",
             ("tests/test_bands.py::test_queries_about_nothing_use_no_word_of_the_set_and_are_topped_up_when_a_set_uses_nearly_all",)),
    Mutation("ray-answer-not-journalled", "build/caption/engines/ray.py",
             "job.cache.append(journal_entries(kept, results, label, job.summary, silent))",
             "journal_entries(kept, results, label, job.summary, silent)",
             ("tests/test_ray_engine.py::test_two_ray_workers_write_the_local_engines_description_csv_byte_for_byte",)),
    Mutation("ray-thumbnail-not-written", "build/caption/engines/ray.py",
             "        write_atomic(job.folder / image_name(planned), thumb)\n", "",
             ("tests/test_ray_engine.py::test_two_ray_workers_write_the_local_engines_description_csv_byte_for_byte",)),
    Mutation("transpose-rest-skipped", "imagesearch/models/transposes.py",
             "rest = [held.index(axis) for axis in order]", "rest = list(range(len(order)))",
             ("tests/test_transposes.py",)),
    Mutation("padded-tile-through-the-export", "imagesearch/models/vision_export.py",
             "if patch_attention_mask is not None and not bool(patch_attention_mask.all()):",
             "if False:",
             ("tests/test_vision_export.py::test_idefics3_tiles_go_through_the_export_and_a_padded_tile_is_refused_in_one_line",)),
    Mutation("encoder-chunk-ignores-its-budget", "imagesearch/models/vision_export.py",
             "return max(1, CHUNK_PIXELS //", "return max(8, CHUNK_PIXELS //",
             ("tests/test_vision_export.py::test_idefics3_tiles_go_through_the_export_and_a_padded_tile_is_refused_in_one_line",)),
    Mutation("encoder-keeps-only-its-last-chunk", "imagesearch/models/vision_export.py",
             "last_hidden_state=torch.cat(parts).to(self.out_dtype)",
             "last_hidden_state=parts[-1].to(self.out_dtype)",
             ("tests/test_vision_export.py::test_idefics3_tiles_go_through_the_export_and_a_padded_tile_is_refused_in_one_line",)),
    Mutation("ray-stream-left-running", "build/caption/engines/ray.py",
             "            ray_session.close_stream(rows_out)\n", "            pass\n",
             ("tests/test_ray_engine.py::test_a_ctrl_c_while_the_driver_journals_a_batch_ends_ray_datas_executor_before_ray_is_left",)),
    Mutation("ray-embedding-out-of-order", "build/embedding/ray_pool.py",
             "yield _vectors(pending.popleft())\n        while", "yield _vectors(pending.pop())\n        while",
             ("tests/test_ray_engine.py::test_embedding_on_two_ray_workers_equals_the_local_engines_within_float32_rounding",)),
    Mutation("bf16-without-the-instructions", "imagesearch/models/runtime.py",
             'dtype = "bfloat16" if bf16 else "float32"', 'dtype = "bfloat16"',
             ("tests/test_runtime.py",)),
    Mutation("auto-cpu-all-float", "imagesearch/models/runtime.py",
             'if dtype == "int8" or (dtype == "auto" and (not bf16 or batch == 1)):', 'if dtype == "int8":',
             ("tests/test_runtime.py",)),
    Mutation("auto-ignores-the-batch", "imagesearch/models/runtime.py",
             '(dtype == "auto" and (not bf16 or batch == 1))', '(dtype == "auto" and not bf16)',
             ("tests/test_runtime.py",)),
    Mutation("space-captions-an-upload-as-a-batch", "imagesearch/serve/image_query.py",
             "runtime=runtime, batch=1)", "runtime=runtime)",
             ("tests/test_caption_runtime_build.py",)),
    Mutation("int8-range-from-the-batch", "imagesearch/models/int8_linears.py",
             "low = rows.amin(dim=1, keepdim=True)", "low = rows.amin().expand(rows.shape[0], 1)",
             ("tests/test_int8_linears.py",)),
    Mutation("int8-one-scale-per-matrix", "imagesearch/models/int8_linears.py",
             "scales = (weight.abs().amax(dim=1) / 127.0)", "scales = (weight.abs().amax().expand(weight.shape[0]) / 127.0)",
             ("tests/test_int8_linears.py",)),
    Mutation("export-made-meanwhile-replaced", "imagesearch/models/vision_export.py",
             "        if valid(folder, key, files):  # another process", "        if False:  # another process",
             ("tests/test_vision_export.py::test_an_export_another_process_made_meanwhile_is_kept_and_a_damaged_one_replaced",)),
    Mutation("onnx-batch-shares-a-range", "imagesearch/models/onnx_export.py",
             "    def per_call(self, pixels: Any) -> int:\n        return 1\n",
             "    def per_call(self, pixels: Any) -> int:\n        return len(pixels)\n",
             ("tests/test_onnx_export.py::test_a_photo_gets_the_same_features_alone_or_in_a_batch",)),
    Mutation("onnx-agreement-unchecked", "imagesearch/models/onnx_export.py", "    if agreement < MIN_COSINE:",
             "    if False:",
             ("tests/test_onnx_export.py::test_when_the_onnx_export_disagrees_auto_takes_openvino_and_a_named_runtime_is_refused",)),
    Mutation("damaged-export-used-by-any-runtime", "imagesearch/models/vision_export.py",
             "started, reused = time.perf_counter(), valid(folder, key, files)",
             "started, reused = time.perf_counter(), folder.exists()",
             ("tests/test_onnx_export.py::test_an_onnx_export_is_reused_then_rebuilt_when_its_file_is_damaged",
              "tests/test_vision_export.py::test_an_export_is_reused_then_rebuilt_when_its_weights_file_is_damaged")),
)

IGNORED = shutil.ignore_patterns(".git", ".venv", "venv", "__pycache__", "output", ".bench", ".whl", ".gl",
                                 ".pytest_cache", "bench-artifacts")


def run(mutation: Mutation) -> dict:
    with tempfile.TemporaryDirectory(prefix=f"mutant-{mutation.name}-") as tmp:
        copy = Path(tmp) / "repo"
        shutil.copytree(REPO, copy, ignore=IGNORED)
        target = copy / mutation.file
        text = target.read_text(encoding="utf-8")
        if text.count(mutation.old) != 1:
            return {"mutation": mutation.name, "caught": False, "error": f"{mutation.file}: the line to mutate is gone"}
        target.write_text(text.replace(mutation.old, mutation.new), encoding="utf-8")
        # -m "" runs the named tests whatever their tier (pytest.ini leaves the slow ones out by default)
        done = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-x", "-q", "-m", "",
                               *mutation.tests], cwd=copy, capture_output=True, text=True)
        tail = [line for line in done.stdout.splitlines() if line.strip()][-1:] or [""]
        if done.returncode not in (0, *CAUGHT):  # no test ran, or the command itself was wrong: nothing was tried
            return {"mutation": mutation.name, "caught": False, "tests": list(mutation.tests),
                    "error": f"pytest exited {done.returncode}: {tail[0]}"}
        return {"mutation": mutation.name, "caught": done.returncode in CAUGHT, "tests": list(mutation.tests),
                "summary": tail[0]}


def main(argv: list[str] | None = None) -> int:
    names = list(argv if argv is not None else sys.argv[1:])
    chosen = [m for m in MUTATIONS if not names or m.name in names]
    outcomes = []
    for mutation in chosen:
        outcome = run(mutation)
        label = "caught  " if outcome["caught"] else "NOT RUN " if "error" in outcome else "SURVIVED"
        print(f"{label} {mutation.name}: {outcome.get('summary') or outcome.get('error')}", flush=True)
        outcomes.append(outcome)
    print(json.dumps({"mutations": outcomes, "caught": sum(o["caught"] for o in outcomes), "of": len(outcomes)}))
    return 0 if all(o["caught"] for o in outcomes) else 1


if __name__ == "__main__":
    sys.exit(main())

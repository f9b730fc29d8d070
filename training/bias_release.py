"""A release that adds the bias-field correction step to another release's networks.

The networks, plans, labels and parity goldens are the base release's, byte for byte; the manifest
gains `inference.bias_correction` (engine/preprocessing/bias-field.ts), from the estimator that
training/bias_field.py's pre-registered rule chose on the training cases (bench/results/bias-field.json:
`gated:SD:poly:1` becomes `{"method": "wm_log_poly1", "label": 1, "min_field_sd": SD}`). Nothing is
fitted here. Then the robustness suite with --card on the new folder writes the card's robustness
section.

Run (from the repository root):
  /usr/bin/python3 -m training.bias_release --base models/brain-wm-2d/releases/2.1.0 --version 2.2.0 \
      --field bench/results/bias-field.json --out models/brain-wm-2d/releases/2.2.0
"""

from __future__ import annotations

import argparse
import json
import os
import shutil

from .export import write_manifest
from .model_card import ROBUSTNESS_BEGIN, ROBUSTNESS_END

WM_LABEL = 1


def spec_of(estimator: str) -> dict:
    """The manifest entry of a study estimator; only the gated degree-1 fit is a pipeline step."""
    kind, _, rest = estimator.partition(':')
    sd, _, inner = rest.partition(':')
    if kind != 'gated' or inner != 'poly:1':
        raise SystemExit(f'{estimator}: only gated:SD:poly:1 is implemented as a pipeline step')
    return {'method': 'wm_log_poly1', 'label': WM_LABEL, 'min_field_sd': float(sd)}


def build(base: str, version: str, field: str, out: str) -> dict:
    with open(field) as f:
        study = json.load(f)
    if study.get('chosen') is None:
        raise SystemExit(f'{field}: no estimator was chosen')
    with open(os.path.join(base, 'manifest.json')) as f:
        manifest = json.load(f)
    if manifest['inference'].get('bias_correction'):
        raise SystemExit(f'{base} already corrects bias fields')
    base_ref = f"{manifest['id']}@{manifest['version']}"
    if os.path.exists(out):
        shutil.rmtree(out)
    os.makedirs(out)
    for rel in manifest['files']:
        os.makedirs(os.path.dirname(os.path.join(out, rel)), exist_ok=True)
        shutil.copyfile(os.path.join(base, rel), os.path.join(out, rel))
    manifest['version'] = version
    manifest['inference']['bias_correction'] = spec_of(study['chosen'])
    manifest['provenance'] = {
        'networks_of': base_ref,
        'base_provenance': manifest.get('provenance'),
        'bias_correction': {
            'estimator': study['chosen'],
            'chosen_on': study['selected_on'],
            'chosen_with': study['selected_with'],
            'max_clean_cost': study['max_clean_cost'],
            'study': 'training/bias_field.py, bench/results/bias-field.json',
        },
        'code': 'training/bias_release.py',
        'command': f'/usr/bin/python3 -m training.bias_release --base {base} --version {version} '
                   f'--field {field} --out {out}',
    }
    manifest.pop('edge', None)
    with open(os.path.join(out, 'README.md'), 'w') as f:
        f.write(card(manifest, base_ref))
    manifest['files']['README.md'] = {'role': 'model card'}
    write_manifest(out, manifest)
    return manifest


def card(manifest: dict, base_ref: str) -> str:
    spec = manifest['inference']['bias_correction']
    prov = manifest['provenance']['bias_correction']
    return f"""# {manifest['id']} {manifest['version']}: {base_ref}'s networks with bias-field correction

**Research use only. Not for clinical use.** Not a medical device; its networks were trained on 2
volumes on a CPU; no claim of generalisation beyond skull-stripped T1 volumes like the training data.

## What it is
{base_ref}'s networks, plans and post-processing, byte for byte (its card describes them), with one
step added to the pipeline (docs/robustness.md, "Bias-field correction as a pipeline step"):

1. Segment the image as {base_ref} does.
2. Fit a plane to the log-intensity inside the first segmentation's white matter (label {spec['label']}),
   eroded once, in the brain box's coordinates: the log of a smooth multiplicative field
   (engine/preprocessing/bias-field.ts, pinned to training/bias_field.py by test/parity/bias-field.test.ts).
3. When the field's sd over that mask is above {spec['min_field_sd']} (log units), divide the image by the
   field and segment it again; that is the answer. Otherwise the first segmentation is.

- **How the step was chosen.** training/bias_field.py's rule, fixed before it ran, picked
  `{prov['estimator']}` among seven estimators on the training cases ({', '.join(prov['chosen_on'])}) with
  {prov['chosen_with']}, never on fsA: the largest mean Dice gain on bias 40 % among those costing a clean
  training case at most {prov['max_clean_cost']} Dice. The gate's threshold sits between two training
  variants' field sds (the study's docstring says how, and what a review found about it). The study
  measured it on fsA only after the choice.
- **Cost:** up to two passes of {base_ref}'s networks (the work bounds count both, whatever the gate
  decides, and the corrected image and the first label map besides; docs/work-bounds.md). On an image
  under the gate it costs one pass and the fit (well under a second on a 256^3 volume).
- **Weights, parity:** {base_ref}'s files and goldens; the step has no weights.
- **Edge:** not offered, as for {base_ref}.
- **Training budget:** none; see {base_ref}'s card for its networks.

{ROBUSTNESS_BEGIN}
{ROBUSTNESS_END}
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--base', required=True, help='the release folder whose networks run')
    ap.add_argument('--version', required=True)
    ap.add_argument('--field', required=True, help="training/bias_field.py's results, with the chosen estimator")
    ap.add_argument('--out', required=True)
    a = ap.parse_args()
    m = build(a.base, a.version, a.field, a.out)
    print(json.dumps({'version': m['version'], 'bias_correction': m['inference']['bias_correction']}))


if __name__ == '__main__':
    main()

"""The model index as a model zoo reads it (mim, mmpretrain's ModelHub, the Inferencers): every metafile
entry names an existing config, no ``Weights`` that point nowhere, and ``Results`` that say the data they
were measured on — small-data numbers say so, benchmark numbers come with their weights."""
import os.path as osp
import re

import pytest
import yaml

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
SMALL = 'small data, not a benchmark'
TASKS = {'Image Classification', 'Few-shot Image Classification', 'Object Detection', 'Instance Segmentation',
         'Semantic Segmentation'}


def _entries():
    with open(osp.join(ROOT, 'model-index.yml')) as f:
        index = yaml.safe_load(f)
    out = []
    for mf in index['Import']:
        assert osp.isfile(osp.join(ROOT, mf)), f'model-index.yml imports {mf}, which does not exist'
        with open(osp.join(ROOT, mf)) as f:
            meta = yaml.safe_load(f)
        out += [(mf, m) for m in meta['Models']]
    return out


ENTRIES = _entries()


def test_names_are_unique_and_every_config_is_listed():
    names = [m['Name'].lower() for _, m in ENTRIES]
    assert len(names) == len(set(names))
    for mf, m in ENTRIES:  # one metafile per config folder: its entries live in that folder
        assert osp.dirname(m['Config']) == osp.dirname(mf), (mf, m['Name'])


@pytest.mark.parametrize('mf,m', ENTRIES, ids=[m['Name'] for _, m in ENTRIES])
def test_entry(mf, m):
    where = f"{mf}: {m['Name']}"
    assert osp.isfile(osp.join(ROOT, m['Config'])), f"{where}: Config {m['Config']} does not exist"
    assert osp.splitext(osp.basename(m['Config']))[0] == m['Name'], where
    weights = m.get('Weights')
    if weights is not None:  # a published checkpoint: a URL, never a local path that a user lacks
        assert re.match(r'https?://', str(weights)), f'{where}: Weights {weights!r} points nowhere'
    results = m.get('Results')
    assert isinstance(results, list) and results, f'{where}: no Results (Task, Dataset, Metrics)'
    for r in results:
        assert r.get('Task') in TASKS, f"{where}: Task {r.get('Task')!r}"
        assert isinstance(r.get('Dataset'), str) and r['Dataset'], f'{where}: Results without a Dataset'
        assert r['Dataset'].startswith(m['Metadata']['Training Data'].split(' (')[0]), where
        assert isinstance(r.get('Metrics'), dict), f'{where}: Metrics must be a mapping ({{}} when not run)'
        if r['Metrics']:  # measured: small data says so and how; benchmark numbers need their weights
            assert SMALL in r['Dataset'] or weights is not None, \
                f"{where}: {r['Dataset']!r} numbers without weights: say '({SMALL})' or publish the weights"
            assert m.get('Command'), f'{where}: measured results need the Command that gave them'


def test_model_hub_reads_the_same_entries():
    import mmlavit  # noqa: F401
    from mmlavit.apis.model_hub import our_models
    ours = our_models()
    assert set(ours) == {m['Name'].lower() for _, m in ENTRIES}
    assert all(meta.weights is None for meta in ours.values())

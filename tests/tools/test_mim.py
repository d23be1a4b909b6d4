"""mim's index: model-index.yml lists every shipped config once. (``mim search``, ``mim train`` and
``mim test`` from a wheel and from an editable install: tests/tools/test_install.py.)"""
import glob
import os.path as osp

import yaml

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def test_model_index_lists_every_config_once():
    with open(osp.join(ROOT, 'model-index.yml')) as f:
        imports = yaml.safe_load(f)['Import']
    listed = []
    for meta in imports:
        assert meta.endswith('metafile.yml') and osp.isfile(osp.join(ROOT, meta)), meta
        with open(osp.join(ROOT, meta)) as f:
            doc = yaml.safe_load(f)
        collections = {c['Name'] for c in doc.get('Collections', [])}
        for model in doc['Models']:
            assert model['In Collection'] in collections, model['Name']
            assert osp.isfile(osp.join(ROOT, model['Config'])), model['Config']
            assert model['Name'] == osp.splitext(osp.basename(model['Config']))[0]
            assert all(res.get('Task') and res.get('Dataset') for res in model.get('Results', []))
            listed.append(model['Config'])
    configs = glob.glob(osp.join(ROOT, 'configs', '**', '*.py'), recursive=True)
    shipped = sorted(osp.relpath(p, ROOT) for p in configs if '_base_' not in p)
    assert sorted(listed) == shipped  # one metafile entry per shipped config, none missing, none twice

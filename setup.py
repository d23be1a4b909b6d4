"""Setup for mmlavit.

Like the OpenMMLab packages, the repository's ``configs/`` and ``tools/`` are shipped inside the package
under ``mmlavit/.mim`` (symlinked for an editable install, copied into wheels), so that installed users can
write ``_base_ = 'mmlavit::lavit/lavit-t_8xb128_in1k.py'`` and ``mim`` finds our configs.
"""
import os
import os.path as osp
import shutil
import sys

from setuptools import find_packages, setup
from setuptools.command.build_py import build_py

HERE = osp.dirname(osp.abspath(__file__))


def get_version():
    ns = {}
    with open(osp.join(HERE, 'mmlavit', 'version.py')) as f:
        exec(f.read(), ns)
    return ns['__version__']


def add_mim_extension(building=None):
    """Place configs/ and tools/ under mmlavit/.mim (symlinks in a source tree, copies for a wheel)."""
    if building is None:
        building = any(cmd in sys.argv for cmd in ('sdist', 'bdist_wheel'))
    mim_dir = osp.join(HERE, 'mmlavit', '.mim')
    os.makedirs(mim_dir, exist_ok=True)
    for name in ('configs', 'tools', 'model-index.yml'):
        src, dst = osp.join(HERE, name), osp.join(mim_dir, name)
        if not osp.exists(src):
            continue
        if osp.islink(dst) or osp.isfile(dst):
            os.remove(dst)
        elif osp.isdir(dst):
            shutil.rmtree(dst)
        if building:
            (shutil.copytree if osp.isdir(src) else shutil.copyfile)(src, dst)
        else:
            os.symlink(osp.relpath(src, mim_dir), dst, target_is_directory=osp.isdir(src))


class BuildPyWithStartupPth(build_py):
    """build_py that also puts ``mmlavit-startup.pth`` (which calls ``mmlavit_startup.install()``) at the root
    of what pip installs into site-packages, so that pip lists it in RECORD and ``pip uninstall`` removes it.

    A wheel: ``build_lib``. An editable wheel (``pip install -e``): setuptools runs build_py with
    ``editable_mode=True`` and packs the unpacked-wheel folder, which is the ``install`` command's
    ``install_lib`` there (``build_lib`` is a scratch folder then). data_files cannot do this: they go to the
    data scheme (the prefix, not site-packages), and the editable wheel leaves them out.
    """

    def run(self):
        super().run()
        target = self.get_finalized_command('install').install_lib if self.editable_mode else self.build_lib
        self.mkpath(target)
        self.copy_file(osp.join(HERE, 'mmlavit-startup.pth'), osp.join(target, 'mmlavit-startup.pth'))

    def get_outputs(self, *args, **kwargs):
        return [*super().get_outputs(*args, **kwargs), osp.join(self.build_lib, 'mmlavit-startup.pth')]

    def get_source_files(self):  # so that an sdist carries it
        return [*super().get_source_files(), 'mmlavit-startup.pth']


def readme():
    with open(osp.join(HERE, 'README.md'), encoding='utf-8') as f:
        return f.read()


add_mim_extension()

setup(
    name='mmlavit',
    version=get_version(),
    description='LaViT, CLKD/TRG distillation and GP-MAML few-shot learning as an OpenMMLab 2.x plugin',
    long_description=readme(),
    long_description_content_type='text/markdown',
    packages=find_packages(exclude=('tests', 'tests.*', 'configs', 'tools', 'docs')),
    # `mmlavit::` bases before anything imports mmlavit (the upstream tools/train.py, mim): the start-up
    # module, and its .pth written by BuildPyWithStartupPth
    py_modules=['mmlavit_startup'],
    cmdclass={'build_py': BuildPyWithStartupPth},
    include_package_data=True,
    # the metafiles must ship: mmengine reads every one model-index.yml imports to resolve `mmlavit::` bases
    package_data={'mmlavit': ['.mim/model-index.yml', '.mim/configs/**/*.py', '.mim/configs/**/*.yml',
                              '.mim/configs/**/*.md', '.mim/tools/**/*', '.mim/tools/*']},
    python_requires='>=3.8',
    # The ranges the upstreams accept (their own requirement metadata); the versions we test are in the
    # README and pinned for our own .venv by requirements/constraints.txt. mmdet and mmseg are optional:
    # mmlavit.registry skips a downstream package that is not installed.
    install_requires=[
        'torch>=2.0',  # torch.func.functional_call (few-shot inner loop)
        'torchvision>=0.15',
        'mmengine>=0.8.3,<1.0.0',  # mmpretrain 1.2's range (mmdet 3.3: >=0.7.1, mmseg 1.2: >=0.5.0)
        'mmcv>=2.0.0,<2.4.0',  # mmpretrain 1.2's range; mmdet/mmseg narrow it (extras below)
        'mmpretrain>=1.0.0,<2.0.0',
        'numpy',
        'Pillow',
    ],
    extras_require={
        'det': ['mmdet>=3.0.0,<4.0.0', 'mmcv>=2.0.0rc4,<2.2.0', 'pycocotools'],
        'seg': ['mmsegmentation>=1.0.0,<2.0.0', 'mmcv>=2.0.0rc4,<2.2.0', 'ftfy', 'regex'],
        'all': ['mmdet>=3.0.0,<4.0.0', 'mmsegmentation>=1.0.0,<2.0.0', 'mmcv>=2.0.0rc4,<2.2.0', 'pycocotools',
                'ftfy', 'regex'],
        'tests': ['pytest', 'pytest-xdist', 'scikit-learn', 'openmim', 'flake8', 'isort'],
        # ONNX export and ONNX Runtime (tools/deployment, docs/deployment.md); mmlavit imports without them
        'deploy': ['onnx>=1.16', 'onnxruntime>=1.18', 'onnxscript>=0.2'],
    },
    zip_safe=False,
)

if any(cmd in sys.argv for cmd in ('sdist', 'bdist_wheel')):
    add_mim_extension(building=False)  # the source tree keeps its links (an editable install reads them)

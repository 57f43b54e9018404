# Developer check (not run by CI): the same dropout model in Keras 3 (JAX), to compare its training and
# validation losses with seqnet's run of experiments/series_rnn_dropout.json. Run: KERAS_BACKEND=jax python3 THIS.
import os
os.environ["KERAS_BACKEND"]="jax"
import numpy as np, keras
from keras import layers
rng=np.random.RandomState(42)
def series(t): return t*np.sin(t)/3 + 2*np.sin(5*t)
def batch(n):
    t0=rng.rand(n,1)*(30-20*0.1-0.1)
    t=t0+np.arange(21)*0.1
    s=series(t)
    return s[:,:-1,None].astype("float32"), s[:,1:,None].astype("float32")
x,y=batch(10000); xv,yv=batch(1000)
keras.utils.set_random_seed(1)
m=keras.Sequential([keras.Input((20,1))]+sum([[layers.Dropout(0.5),layers.SimpleRNN(100,activation="relu",return_sequences=True)] for _ in range(3)],[])+[layers.TimeDistributed(layers.Dense(1))])
m.compile(optimizer=keras.optimizers.Adam(1e-3),loss="mse")
m.fit(x,y,batch_size=50,epochs=3,validation_data=(xv,yv),verbose=2)
print("last-value baseline", np.mean((xv[:,:,0]-yv[:,:,0])**2))
